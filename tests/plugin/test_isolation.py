"""Nothing of one test is visible to the next, in any order, rolled back or committing."""

import re

# Six tests that each expect empty tables, write to two aliases and commit nothing; the same six again with
# transaction=True (real commits, emptied afterwards). Any leak makes a later test fail, whatever the order.
SUITE = '''
    import pytest
    from inner_helpers import SERVER, add, committed, count

    @pytest.mark.parametrize("n", range(6))
    @pytest.mark.uses_db("a", SERVER)
    def test_rolled_back(n):
        assert count("a") == count(SERVER) == 0
        for i in range(n + 1):
            add("a", f"r{n}-{i}")
            add(SERVER, f"r{n}-{i}")
        assert count("a") == count(SERVER) == n + 1
        assert committed(SERVER) == 0  # nothing is committed

    @pytest.mark.parametrize("n", range(6))
    @pytest.mark.uses_db("a", SERVER, transaction=True)
    def test_committing(n):
        assert count("a") == count(SERVER) == 0
        for i in range(n + 1):
            add("a", f"t{n}-{i}")
            add(SERVER, f"t{n}-{i}")
        assert committed("a") == committed(SERVER) == n + 1  # really committed
'''

REVERSE = '''
    def pytest_collection_modifyitems(items):
        items.reverse()
'''


def order(out: str) -> list[str]:
    return re.findall(r"^test_suite\.py::(\S+) PASSED", out, re.MULTILINE)


def test_any_order(inner, pytester, backend):
    """Two random orders (pytest-randomly seeds; one on the server backends) and the reversed order."""
    pytester.makepyfile(test_suite=SUITE)
    seeds = (1, 2) if backend.name == "sqlite" else (3,)
    seen = []
    for seed in seeds:
        run = inner("-v", "-p", "randomly", f"--randomly-seed={seed}", backend=backend)  # after -p no:randomly
        run.result.assert_outcomes(passed=12)
        assert f"Using --randomly-seed={seed}" in run.out
        seen.append(order(run.out))
    assert all(sorted(o) == sorted(seen[0]) for o in seen)
    assert len({tuple(o) for o in seen}) == len(seen)  # the seeds gave different orders
    assert seen[0] != [f"test_rolled_back[{n}]" for n in range(6)] + [f"test_committing[{n}]" for n in range(6)]

    pytester.makeconftest(REVERSE)
    run = inner("-v", backend=backend)
    run.result.assert_outcomes(passed=12)
    assert order(run.out)[0] == "test_committing[5]"
    assert order(run.out)[-1] == "test_rolled_back[0]"


def test_transaction_modes(inner, pytester, backend):
    """transaction=[SERVER] commits on SERVER only; committing tests' tables are emptied; reset_sequences;
    failing tests, a broken transaction and a closed connection leave nothing behind."""
    pytester.makepyfile(test_modes='''
        import pytest
        from django.db import IntegrityError, connections
        from inner_helpers import MODELS, SERVER, add, committed, count

        @pytest.mark.uses_db("a", SERVER, transaction=[SERVER])
        def test_1_commits_on_server_only():
            add("a", "x")
            add(SERVER, "x")
            assert count("a") == count(SERVER) == 1
            assert committed(SERVER) == 1   # visible from a second connection: committed for real
            assert committed("a") == 0      # a is inside the test's transaction
            assert connections["a"].in_atomic_block
            assert not connections[SERVER].in_atomic_block

        @pytest.mark.uses_db("a", SERVER)
        def test_2_sees_nothing():
            assert count("a") == count(SERVER) == 0
            assert committed("a") == committed(SERVER) == 0

        @pytest.mark.uses_db("a", SERVER)
        def test_3_rolled_back_writes_advance_sequences():
            for i in range(3):
                add("a", f"s{i}")
                add(SERVER, f"s{i}")

        @pytest.mark.uses_db("a", SERVER, reset_sequences=True, transaction=True)
        def test_4_reset_sequences():
            assert add("a", "first").pk == 1
            assert add(SERVER, "first").pk == 1

        @pytest.mark.uses_db("a", SERVER, transaction=True)
        def test_5_writes():
            add(SERVER, "y")

        @pytest.mark.uses_db("a", SERVER, reset_sequences=True, transaction=True)
        def test_6_reset_sequences_again():
            assert count(SERVER) == committed(SERVER) == 0
            assert add("a", "first").pk == 1
            assert add(SERVER, "first").pk == 1

        @pytest.mark.uses_db("a", SERVER)
        def test_7_rolled_back_writes_advance_sequences():
            for i in range(3):
                add("a", f"s{i}")
                add(SERVER, f"s{i}")

        @pytest.mark.uses_db("a", SERVER, reset_sequences=True)
        def test_8_reset_sequences_rolled_back():
            assert add("a", "first").pk == 1
            assert add(SERVER, "first").pk == 1
            assert committed(SERVER) == 0

        @pytest.mark.uses_db("a", SERVER)
        def test_9_all_empty():
            assert committed("a") == committed(SERVER) == 0
            assert {MODELS[SERVER].objects.count(), count("a")} == {0}


        @pytest.mark.uses_db("a", SERVER)
        def test_10_breaks_its_transaction():
            first = add(SERVER, "dup")
            fields = {"code": "dup2", "weight": 1} if SERVER == "b" else {"name": "dup2"}
            with pytest.raises(IntegrityError):
                MODELS[SERVER].objects.create(id=first.pk, **fields)


        @pytest.mark.uses_db("a", SERVER)
        def test_11_closes_its_connection():
            add(SERVER, "x")
            connections[SERVER].close()


        @pytest.mark.uses_db("a", SERVER)
        def test_12_fails_as_expected():
            add("a", "y")
            add(SERVER, "y")
            assert False, "expected"


        @pytest.mark.uses_db("a", SERVER, transaction=True)
        def test_13_committing_fails_as_expected():
            add("a", "q")
            add(SERVER, "q")
            raise RuntimeError("expected")


        @pytest.mark.uses_db("a", SERVER)
        def test_14_all_empty():
            assert committed("a") == committed(SERVER) == 0
            assert count("a") == count(SERVER) == 0
    ''')
    run = inner("-v", backend=backend)
    run.result.assert_outcomes(passed=12, failed=2)
    assert re.findall(r"^FAILED (\S+)", run.out, re.MULTILINE) == [
        "test_modes.py::test_12_fails_as_expected", "test_modes.py::test_13_committing_fails_as_expected"]


TUNED = '''
    import pytest
    from django.db import connections


    @pytest.mark.uses_db("a", "b")
    def test_test_files_skip_durability(multidb):
        for alias in ("a", "b"):
            with connections[alias].cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                assert cursor.fetchone()[0] == "memory", alias
                cursor.execute("PRAGMA synchronous")
                assert cursor.fetchone()[0] == 0, alias
            assert multidb[alias]["pragmas"] == ["PRAGMA journal_mode = MEMORY", "PRAGMA synchronous = OFF"]
'''


def test_sqlite_test_databases_keep_their_journal_in_memory(inner, pytester):
    """A disposable sqlite file needs no durability: every connection to it gets the two pragmas."""
    pytester.makepyfile(test_tuned=TUNED)
    inner().result.assert_outcomes(passed=1)
