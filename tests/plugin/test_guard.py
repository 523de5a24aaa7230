"""The access guard. Every way of reaching an undeclared alias fails, naming the alias and
the marker to add."""

import re

GUARDED = '''
    import threading

    import pytest
    from django.db import connections, transaction
    from sample_models.artists.models import Artist
    from sample_models.widgets.models import Widget


    @pytest.mark.uses_db("a")
    def test_orm():
        Artist.objects.count()
        Widget.objects.count()


    @pytest.mark.uses_db("a")
    def test_atomic_using():
        with transaction.atomic(using="b"):
            pass


    @pytest.mark.uses_db("a", "c")
    def test_raw_cursor():
        with connections["b"].cursor() as cursor:
            cursor.execute("SELECT 1")


    @pytest.mark.uses_db("b")
    def test_opens_b():
        assert Widget.objects.count() == 0
        assert connections["b"].connection is not None  # open, and stays open after the test


    @pytest.mark.uses_db("a")
    def test_connection_opened_before():
        assert connections["b"].connection is not None  # the connection the previous test opened
        with connections["b"].cursor() as cursor:
            cursor.execute("SELECT 1")


    def test_no_marker():
        Artist.objects.count()


    def test_no_marker_thread():
        errors = []

        def run():
            try:
                Artist.objects.count()
            except Exception as error:
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        raise errors[0]


    def test_no_marker_without_database_is_fine():
        assert Artist(name="x").name == "x"   # no query, no error


    @pytest.mark.uses_db("a")
    def test_declared_is_fine():
        assert Artist.objects.count() == 0
'''


def test_every_way_to_an_undeclared_alias_is_blocked(inner, pytester):
    pytester.makepyfile(test_guarded=GUARDED)
    run = inner("-p", "no:cacheprovider")
    run.result.assert_outcomes(passed=3, failed=6)
    errors = dict(re.findall(r"^E\s+pytest_multidb\.guard\.DatabaseAccessError: (test_guarded\.py::\w+) (.*)$",
                             run.out, re.MULTILINE))
    undeclared = "touched database alias 'b', which it did not declare"
    assert errors == {
        "test_guarded.py::test_orm": f"{undeclared} (declared: a). Use @pytest.mark.uses_db('a', 'b').",
        "test_guarded.py::test_atomic_using": f"{undeclared} (declared: a). Use @pytest.mark.uses_db('a', 'b').",
        "test_guarded.py::test_raw_cursor": f"{undeclared} (declared: a, c). Use @pytest.mark.uses_db('a', 'c', 'b').",
        "test_guarded.py::test_connection_opened_before":
            f"{undeclared} (declared: a). Use @pytest.mark.uses_db('a', 'b').",
        "test_guarded.py::test_no_marker": "touched database alias 'a' without declaring any database. Add "
            "@pytest.mark.uses_db('a') to the test, or call uses_db('a') in a fixture it uses.",
        "test_guarded.py::test_no_marker_thread": "touched database alias 'a' without declaring any database. Add "
            "@pytest.mark.uses_db('a') to the test, or call uses_db('a') in a fixture it uses.",
    }
    # only the declared aliases were provisioned, once each: b for test_opens_b, a and c for the others
    assert set(run.summary()) == {"a", "b", "c"}
    provisioning = re.findall(r"^multidb: provisioning '(\w+)'", run.out, re.MULTILINE)
    assert sorted(provisioning) == ["a", "b", "c"]
