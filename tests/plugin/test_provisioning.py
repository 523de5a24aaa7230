"""Only the aliases the selected tests need are provisioned;
the report has one line per provisioned alias (kind, engine, test database name, seconds); the ``multidb``
fixture tells what was provisioned."""

import json
import re

import pytest

BOTH = {"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"}

TESTS = '''
    import json
    import os

    import pytest

    EXPECTED = set(os.environ.get("INNER_EXPECTED", "").split(","))  # what this run should have provisioned


    def test_plain():
        pass


    @pytest.mark.uses_db("a")
    def test_only_a(multidb):
        assert set(multidb) == EXPECTED
        info = multidb["a"]
        assert info["kind"] == "sqlite"
        assert info["name"] == info["settings"]["NAME"]
        assert info["name"].endswith("a.sqlite3")
        assert "/real/" not in info["name"]
        assert info["settings"]["ENGINE"] == "django.db.backends.sqlite3"
        assert info["provision_seconds"] > 0  # measured (a few microseconds for a file name), not left at 0
        assert info["install_seconds"] > 0
        with open("a_seconds.json", "w") as out:
            json.dump([info["provision_seconds"], info["install_seconds"]], out)


    @pytest.mark.uses_db("a", "b", "c")
    def test_servers(multidb):
        assert set(multidb) == EXPECTED
        for alias, real, engine in [("b", "multidb_sample_widgets", "postgresql"),
                                    ("c", "multidb_sample_cycles", "mysql")]:
            info = multidb[alias]
            assert info["kind"] == "server"
            assert info["name"].startswith(f"test_{real}_")
            assert info["settings"]["NAME"] == info["name"]
            assert info["settings"]["ENGINE"] == f"django.db.backends.{engine}"
            assert info["settings"]["HOST"] == "127.0.0.1"
            assert info["provision_seconds"] > 0
            assert info["install_seconds"] > 0


    @pytest.fixture
    def on_default(uses_db):
        uses_db("default")


    def test_declared_by_fixture_only(on_default, multidb):
        assert set(multidb) == EXPECTED | {"default"}  # provisioned when the fixture asked for it
'''


#: Tests in TESTS, counted from its source (not from the run's output).
TESTS_IN_FILE = TESTS.count("\n    def test_")


def lines_about(out: str, alias: str) -> list[str]:
    starts = (f"multidb: {alias}:", f"multidb: provisioning '{alias}'")
    return [line for line in out.splitlines() if line.startswith(starts)]


@pytest.fixture
def both_servers(servers):
    if not (servers.pg_up and servers.maria_up):
        pytest.skip("needs both the PostgreSQL and the MariaDB server")
    return {**BOTH}


def assert_only_a(run, pytester, deselected: int) -> None:
    run.result.assert_outcomes(passed=1, deselected=deselected)
    assert set(run.summary()) == {"a"}
    # the multidb fixture's seconds are the report's
    provision, install = json.loads((pytester.path / "a_seconds.json").read_text())
    assert (run.summary()["a"]["seconds"], run.summary()["a"]["schema"]) == (f"{provision:.2f}", f"{install:.2f}")
    assert len(lines_about(run.out, "a")) == 2  # one progress line while it runs, one summary line
    for alias in ("default", "b", "c"):
        assert lines_about(run.out, alias) == []
    assert run.leftovers() == set()


@pytest.mark.servers
def test_only_needed_aliases_are_provisioned(inner, pytester, both_servers):
    pytester.makepyfile(test_p=TESTS)
    run = inner("test_p.py::test_plain", env=both_servers)
    run.result.assert_outcomes(passed=1)
    assert "multidb: aliases default, a, b, c" in run.out
    assert "provisioning" not in run.out
    assert run.summary() == {}

    assert_only_a(inner("test_p.py::test_only_a", env={**both_servers, "INNER_EXPECTED": "a"}), pytester,
                  deselected=0)


@pytest.mark.servers
def test_only_needed_aliases_are_provisioned_after_deselection(inner, pytester, both_servers):
    pytester.makepyfile(test_p=TESTS)
    run = inner("-k", "only_a", env={**both_servers, "INNER_EXPECTED": "a"})
    assert TESTS_IN_FILE == 4
    assert_only_a(run, pytester, deselected=TESTS_IN_FILE - 1)


@pytest.mark.servers
def test_report_has_one_line_per_provisioned_alias(inner, pytester, both_servers):
    pytester.makepyfile(test_p=TESTS)
    run = inner(env={**both_servers, "INNER_EXPECTED": "a,b,c"}, worker=True)
    run.result.assert_outcomes(passed=4)
    summary = run.summary()
    assert list(summary) == ["a", "b", "c", "default"]  # the markers' aliases together, then the fixture's
    assert {alias: (s["kind"], s["engine"]) for alias, s in summary.items()} == {
        "a": ("sqlite", "django.db.backends.sqlite3"),
        "b": ("server", "django.db.backends.postgresql"),
        "c": ("server", "django.db.backends.mysql"),
        "default": ("sqlite", "django.db.backends.sqlite3"),
    }
    assert re.fullmatch(rf"test_multidb_sample_widgets_\w+_{run.token}", summary["b"]["name"])
    assert re.fullmatch(rf"test_multidb_sample_cycles_\w+_{run.token}", summary["c"]["name"])
    assert summary["a"]["name"].endswith("/a.sqlite3")
    section = run.out[run.out.index("= multidb ="):]
    assert len([line for line in section.splitlines() if line.startswith("multidb: ")]) == 4
    assert run.leftovers() == set()
