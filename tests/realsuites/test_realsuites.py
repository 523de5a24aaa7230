"""Fidelity: real suites, unchanged, pass under pytest-multidb wherever they pass under pytest-django.

Each test runs one suite in one database configuration twice, in subprocesses, from a per-run copy of its sdist
(see ``harness.py``): under pytest-django (``-p no:multidb``) and under pytest-multidb (``-p no:django``), and
compares the JUnit reports per test:

- every test that passes under pytest-django passes under pytest-multidb, and no more fail (a test pytest-django
  skips must not fail here);
- the tests that fail under both are exactly the ones of ``BOTH_FAIL`` (each with its reason), so the table can
  neither hide a new failure nor keep a stale entry. Nothing is skipped or deselected;
- on the servers, no database of the run is left (their names carry the run's token), but pytest-multidb's
  schema-cache template, kept by design (dropped here).

Counts and wall times of both runs are printed and written to ``<tmp_path>/realsuite.json``; time is reported, not
asserted (``benchmarks/realsuites.py`` measures it).

Suites: Django's own test modules of the installed Django version (settings as its ``runtests.py`` builds them),
with ``test_sqlite``'s databases (``default`` and ``other``, in-memory sqlite: ``harness.DJANGO_MODULES``) and with
``default`` on PostgreSQL and ``other`` on MariaDB (``harness.SERVER_MODULES``); django-simple-history's suite
(3.13.0, 3.12.0 on Django < 5.2; settings as its ``runtests.py`` builds them, sqlite).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from tests.realsuites import harness
from tests.support.servers import server_databases

#: Tests that fail under pytest-django and under pytest-multidb alike: suite key -> {node id: reason}.
BOTH_FAIL: dict[str, dict[str, str]] = {"django-sqlite": {}, "django-servers": {}, "simple_history-sqlite": {}}

#: Suites that pass whole under their own runner, and so here. (django-simple-history's two tests that fail under
#: pytest-django fail by its test order: test_index.py, met after test_models.py by Django's runner, defines a
#: history-tracked model at run time, without a table, that deleting a user cascades to.)
PASS_WHOLE = {"simple_history-sqlite"}

SUITES = [
    pytest.param("django", "sqlite", id="django-sqlite"),
    pytest.param("django", "servers", id="django-servers", marks=pytest.mark.servers),
    pytest.param("simple_history", "sqlite", id="simple_history-sqlite"),
]


def report(suite: harness.Suite, django: harness.Run, multidb: harness.Run, comparison: harness.Comparison,
           path: Path) -> dict[str, object]:
    """The run's counts and times (printed, and written to ``path``)."""
    failures = harness.messages(multidb.report, suite.root)
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
    try:
        django = harness.run_pytest(suite, "django")
        multidb = harness.run_pytest(suite, "multidb")
    finally:
        harness.drop_schema_templates(suite)  # pytest-multidb's schema cache on PostgreSQL, kept by design
    comparison = harness.compare(django, multidb)
    data = report(suite, django, multidb, comparison, tmp_path / "realsuite.json")

    if config == "servers":  # the databases either plugin made for this run (their names carry its token) are gone
        assert not {name for name in server_databases() if suite.token in name}
    assert django.count("passed") > 100, f"pytest-django ran too little:\n{django.output[-3000:]}"
    regressions = data["regressions"]
    if regressions:
        pytest.fail(f"{len(regressions)} test(s) pass under pytest-django, not under pytest-multidb:\n"
                    f"{grouped(regressions)}", pytrace=False)
    assert multidb.count("failed") <= django.count("failed"), (  # e.g. a test pytest-django skips, failing here
        f"more failed under pytest-multidb: {sorted(t for t, o in multidb.outcomes.items() if o == 'failed')}")
    if suite.key in PASS_WHOLE:
        assert multidb.count("failed") == 0 and multidb.count("passed") > 100, multidb.output[-3000:]
    expected = BOTH_FAIL[suite.key]
    assert comparison.both_failed == set(expected), (
        "the tests failing under both plugins are not BOTH_FAIL's: "
        f"new {sorted(comparison.both_failed - set(expected))}, stale {sorted(set(expected) - comparison.both_failed)}")
