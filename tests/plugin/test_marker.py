"""The ``uses_db`` marker on functions, classes and modules; unknown aliases; --markers/--fixtures."""

import pytest


def test_marker_levels_add_up(inner, pytester):
    """Module, class and function markers merge: the test may use exactly the union of their aliases."""
    pytester.makepyfile(test_levels='''
        import pytest
        from django.db import connections
        from pytest_multidb import DatabaseAccessError

        pytestmark = pytest.mark.uses_db("a")


        def usable(alias):
            try:
                with connections[alias].cursor() as cursor:
                    cursor.execute("SELECT 1")
                return True
            except DatabaseAccessError:
                return False


        def reachable():
            return {alias for alias in ("default", "a", "b", "c") if usable(alias)}


        def test_module_only():
            assert reachable() == {"a"}


        @pytest.mark.uses_db("c")
        def test_module_and_function():
            assert reachable() == {"a", "c"}


        @pytest.mark.uses_db("b")
        class TestClass:
            def test_module_and_class(self):
                assert reachable() == {"a", "b"}

            @pytest.mark.uses_db("c")
            def test_all_three(self):
                assert reachable() == {"a", "b", "c"}


        @pytest.mark.uses_db()
        def test_no_args_means_default():
            assert reachable() == {"a", "default"}
    ''', test_unmarked='''
        from test_levels import reachable

        def test_nothing():
            assert reachable() == set()
    ''')
    run = inner("-v")
    run.result.assert_outcomes(passed=6)


def test_unknown_alias_fails_the_run_before_anything_is_provisioned(inner, pytester):
    pytester.makepyfile(test_bad='''
        import pytest

        @pytest.mark.uses_db("a", "nope")
        def test_unknown():
            pass

        @pytest.mark.uses_db("zz")
        class TestClass:
            def test_in_class(self):
                pass

        @pytest.mark.uses_db("a", "b", transaction=["c"])
        def test_commits_undeclared():
            pass

        def test_fine():
            pass
    ''')
    run = inner()
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: multidb:\n" in run.err
    assert ("test_bad.py::test_unknown: @pytest.mark.uses_db names unknown database alias 'nope'; known aliases: "
            "default, a, b, c. Fix: use one of them, or add the alias to DATABASES or OTHER_DATABASES.") in run.err
    assert ("test_bad.py::TestClass::test_in_class: @pytest.mark.uses_db names unknown database alias 'zz'; "
            "known aliases: default, a, b, c.") in run.err
    assert ("test_bad.py::test_commits_undeclared: uses_db(transaction=[...]) names 'c', which the marker does "
            "not declare. Fix: add 'c' to the marker's aliases.") in run.err
    assert "provisioning" not in run.out
    assert "passed" not in run.out


def test_marker_is_listed(inner):
    run = inner("--markers")
    assert run.result.ret == 0
    assert ("@pytest.mark.uses_db(*aliases, transaction=False, reset_sequences=False): the Django database "
            "aliases the test may use (default: 'default').") in run.out


def test_fixtures_are_listed_with_docstrings(inner, pytester):
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    run = inner("--fixtures")
    assert run.result.ret == 0
    out = run.out
    for fixture, doc in [
        ("uses_db", "Declare, from a fixture, the database aliases the test may use."),
        ("swap_db", 'swap_db(Model, "b")``: send every query of ``Model`` to alias ``b``'),
        ("use_db", "The ``use_db(Model, alias)`` context manager"),
        ("multidb", "What was provisioned so far, per alias: kind, name, settings"),
        ("db_queries", 'assert db_queries["a"].count == 2'),
        ("multidb_atomic", "pytest_multidb.atomic`` over the test's declared aliases"),
    ]:
        header = next((line for line in out.splitlines() if line.startswith(f"{fixture} -- ")), None)
        assert header is not None, f"{fixture} not listed:\n{out}"
        assert "pytest_multidb/fixtures.py" in header
        assert doc in out, fixture
    # the plugin's private fixtures are not advertised without -v
    assert "_multidb_test" not in out
