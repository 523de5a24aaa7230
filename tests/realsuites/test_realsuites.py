"""Fidelity (issue 21): real suites, unchanged, pass under pytest-multidb wherever they pass under pytest-django.

Each test runs one suite in one database configuration twice, in subprocesses, from a per-run copy of its sdist
(see ``harness.py``): under pytest-django (``-p no:multidb``) and under pytest-multidb (``-p no:django``), and
compares the JUnit reports per test:

- every test that passes under pytest-django passes under pytest-multidb;
- the tests that fail under both are exactly the ones of ``BOTH_FAIL`` (each with its reason), so the table can
  neither hide a new failure nor keep a stale entry. Nothing is skipped or deselected;
- on the servers, no database of the run is left (their names carry the run's token).

Counts and wall times of both runs are printed and written to ``<tmp_path>/realsuite.json``; time is reported, not
asserted (``benchmarks/realsuites.py`` measures it).

Suites: Django's own test modules of the installed Django version (``harness.DJANGO_MODULES``; settings as its
``runtests.py`` builds them), with ``test_sqlite``'s databases (``default`` and ``other``, in-memory sqlite) and with
``default`` on PostgreSQL and ``other`` on MariaDB; django-simple-history 3.13.0's suite (settings as its
``runtests.py`` builds them, sqlite).
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from pathlib import Path

import django
import pytest

from tests.realsuites import harness
from tests.support import server_databases

DJANGO = django.VERSION[:2]

#: django-simple-history's suite passes whole under its runtests.py; two things differ under pytest (both plugins).
SETTINGS_MODULE = ("settings from a module (DJANGO_SETTINGS_MODULE, as both plugins take them) are a Settings, not "
                   "runtests.py's settings.configure() UserSettingsHolder: delattr() of the unset "
                   "SIMPLE_HISTORY_DATE_INDEX raises AttributeError")
TEST_ORDER = ("test order: test_index.py (before test_models.py in pytest's order, after it in DiscoverRunner's) "
              "defines a history-tracked model, Foo, at run time without a table; deleting a user then cascades to "
              "tests_historicalfoo: no such table")
#: Django's PostgreSQL tests: what the server configuration lacks against Django's CI.
NO_POOL = "psycopg_pool is not installed (Django's tests/requirements/postgres.txt has psycopg-pool)"
NODB_CURSOR = ("falls back to the first PostgreSQL database's NAME (django_rs_<token>_default), which does not exist: "
               "the run makes test databases only")
POOL_TESTS = ("test_connect_pool", "test_connect_pool_set_to_true", "test_connect_pool_with_timezone",
              "test_pool_check_can_be_overridden", "test_pool_options_not_mutated", "test_pooling_health_checks")
NEEDS_POOL = DJANGO >= (5, 1) and importlib.util.find_spec("psycopg_pool") is None  # pooling came with Django 5.1

#: Tests that fail under pytest-django and under pytest-multidb alike: suite key -> {node id: reason}.
BOTH_FAIL: dict[str, dict[str, str]] = {
    "django-sqlite": {},
    "django-servers": {
        "backends/postgresql/tests.py::Tests::test_nodb_cursor": NODB_CURSOR,
        **{f"backends/postgresql/tests.py::Tests::{name}": NO_POOL for name in POOL_TESTS if NEEDS_POOL},
    },
    "simple_history-sqlite": {
        "simple_history/tests/tests/test_models.py::HistoryManagerTest::test_date_indexing_options": SETTINGS_MODULE,
        "simple_history/tests/tests/test_models.py::HistoricalRecordsTest"
        "::test_specify_history_user_self_reference_delete": TEST_ORDER,
        "simple_history/tests/tests/test_models.py::MultiDBExplicitHistoryUserIDTest"
        "::test_history_user_does_not_exist": TEST_ORDER,
    },
}

SUITES = [
    pytest.param("django", "sqlite", id="django-sqlite"),
    pytest.param("django", "servers", id="django-servers", marks=pytest.mark.servers),
    pytest.param("simple_history", "sqlite", id="simple_history-sqlite"),
]


def report(suite: harness.Suite, django: harness.Run, multidb: harness.Run, comparison: harness.Comparison,
           path: Path) -> dict[str, object]:
    """The run's counts and times (printed, and written to ``path``)."""
    failures = harness.messages(suite.root.parent / f"{suite.key}-multidb.xml", suite.root)
    data = {
        "suite": suite.key, "django_version": harness.django_version(), "source": suite.source,
        "labels": suite.labels,
        "pytest-django": django.summary(), "pytest-multidb": multidb.summary(),
        "time_ratio": round(multidb.seconds / django.seconds, 3) if django.seconds else None,
        "regressions": {test: [outcome, failures.get(test, "")] for test, outcome in comparison.regressions.items()},
        "both_failed": sorted(comparison.both_failed),
        "only_django_failed": sorted(comparison.only_django_failed),
        "differences": {test: [django.outcomes.get(test, "missing"), multidb.outcomes.get(test, "missing")]
                        for test in sorted(set(django.outcomes) | set(multidb.outcomes))
                        if django.outcomes.get(test) != multidb.outcomes.get(test)},
    }
    path.write_text(json.dumps(data, indent=2))
    print(f"\n{suite.key} ({suite.source}, Django {data['django_version']}): "
          f"pytest-django {data['pytest-django']}, pytest-multidb {data['pytest-multidb']}, "
          f"time ratio {data['time_ratio']}; report {path}")
    return data


def grouped(regressions: dict[str, list[str]]) -> str:
    """The regressions, grouped by their error's first line."""
    groups: dict[str, list[str]] = defaultdict(list)
    for test, (outcome, message) in regressions.items():
        groups[message or outcome].append(test)
    lines = []
    for message, tests in sorted(groups.items(), key=lambda item: -len(item[1])):
        lines.append(f"{len(tests)} x {message}")
        lines.extend(f"    {test}" for test in sorted(tests)[:10])
        if len(tests) > 10:
            lines.append(f"    ... and {len(tests) - 10} more")
    return "\n".join(lines)


@pytest.mark.parametrize(("name", "config"), SUITES)
def test_passes_under_pytest_multidb_wherever_it_passes_under_pytest_django(name, config, tmp_path):
    suite = harness.prepare(name, config, tmp_path)
    django = harness.run_pytest(suite, "django")
    multidb = harness.run_pytest(suite, "multidb")
    comparison = harness.compare(django, multidb)
    data = report(suite, django, multidb, comparison, tmp_path / "realsuite.json")

    assert django.count("passed") > 100, f"pytest-django ran too little:\n{django.output[-3000:]}"
    if comparison.regressions:
        pytest.fail(f"{len(comparison.regressions)} test(s) pass under pytest-django, not under pytest-multidb:\n"
                    f"{grouped(data['regressions'])}", pytrace=False)
    if config == "servers":  # the databases either plugin made for this run (their names carry its token) are gone
        assert not {name for name in server_databases() if suite.token in name}
    expected = BOTH_FAIL[suite.key]
    assert comparison.both_failed == set(expected), (
        "the tests failing under both plugins are not BOTH_FAIL's: "
        f"new {sorted(comparison.both_failed - set(expected))}, stale {sorted(set(expected) - comparison.both_failed)}")
