"""Real suites: wall time of pytest-multidb beside pytest-django and the suites' own runners.

    python benchmarks/realsuites.py [--rounds N] [--suites KEY,...] [--modules NAME,...] [--json] [--no-native]
                                    [--workers N]

(``--json``: the JSON on stdout, the table on stderr.)

The suites are those of ``tests/realsuites`` (see its ``harness.py``), from the sdists of the installed Django
version and of django-simple-history, each copied once into a temp dir:

- ``django-sqlite``: Django's test modules ``harness.DJANGO_MODULES``, ``test_sqlite``'s databases (in-memory);
- ``django-servers``: the same modules, ``default`` on PostgreSQL and ``other`` on MariaDB (127.0.0.1);
- ``simple_history-sqlite``: django-simple-history's suite.

Each is run by
- **runtests**: the suite's own runner, ``runtests.py <modules> --settings=realsuite_base --parallel=1`` for Django
  (serial, as the pytest runs are), django-simple-history's ``runtests.py``;
- **django**: ``pytest -p no:multidb`` (pytest-django, a fresh test database per run);
- **multidb**: ``pytest -p no:django`` (pytest-multidb, a fresh test database per run: ``MULTIDB_WARM=0``);
- with ``--workers N``, also **django -nN** and **multidb -nN**: the same on N pytest-xdist workers (what a
  pytest user can do with a suite whose own runner runs it in one process).

Every run is a fresh process, timed from outside (wall clock, start-up and database creation included). Rounds
run every suite with every runner, the runners' order rotating; medians are reported. Ratios: multidb / django and
multidb / runtests (lower is better), and with workers multidb -nN / runtests. Test counts come from the runs
(pytest's JUnit report, the runner's "Ran N tests"); a run's failures are reported beside its time, not hidden.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from project import bytecode_as_installed  # noqa: E402  (benchmarks/, the script's dir)

from tests.realsuites import harness  # noqa: E402  (the repository's root, put on the path above)

SUITES = {"django-sqlite": ("django", "sqlite"), "django-servers": ("django", "servers"),
          "simple_history-sqlite": ("simple_history", "sqlite")}
RUNNERS = ("runtests", "django", "multidb")


def run_once(suite: harness.Suite, runner: str) -> dict[str, object]:
    """One timed run: seconds, and its counts. ``runner``: one of ``RUNNERS``, or a plugin with ``-nN``."""
    if runner == "runtests":
        seconds, status, output = harness.run_native(suite)
        ran = sum(int(n) for n in re.findall(r"^Ran (\d+) tests?", output, re.MULTILINE))
        failed = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d+)", output))
        return {"s": seconds, "exit": status, "tests": ran, "failed": failed}
    plugin, _, workers = runner.partition(" -n")
    run = harness.run_pytest(suite, plugin, workers=int(workers or 0))
    return {"s": run.seconds, "exit": run.returncode, "tests": len(run.outcomes), "failed": run.count("failed"),
            "passed": run.count("passed"), "skipped": run.count("skipped")}


def median(rows: list[dict[str, object]]) -> float | None:
    return round(statistics.median(row["s"] for row in rows), 3) if rows else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def table(result: dict[str, object]) -> str:
    meta = result["meta"]

    def cell(row: dict[str, object], runner: str) -> str:
        figure = row.get(f"{runner}_s")
        if figure is None:
            return "-"
        counts = row["counts"][runner]
        failed = f", {counts['failed']} failed" if counts.get("failed") else ""
        return f"{figure:.2f} s ({counts['tests']} tests{failed})"

    def x(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    spread = [f"{plugin} -n{meta['workers']}" for plugin in ("django", "multidb")] if meta["workers"] else []
    heads = [f"pytest-{runner}" for runner in spread] + ([f"multidb -n{meta['workers']} / runtests"] if spread else [])
    lines = [f"real suites, Django {meta['django']}, Python {meta['python']}, {meta['date']}, {meta['machine']}, "
             f"median of {meta['rounds']} round(s)", "",
             "| suite | runtests.py | pytest-django | pytest-multidb | multidb / django | multidb / runtests | "
             + "".join(f"{head} | " for head in heads),
             "|---|---|---|---|---|---|" + "---|" * len(heads)]
    for key, row in result["suites"].items():
        extra = [cell(row, runner) for runner in spread] + ([x(row["spread_ratio_to_runtests"])] if spread else [])
        lines.append(f"| {key} ({row['source']}) | {cell(row, 'runtests')} | {cell(row, 'django')} | "
                     f"{cell(row, 'multidb')} | {x(row['ratio'])} | {x(row['ratio_to_runtests'])} | "
                     + "".join(f"{value} | " for value in extra))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    parser.add_argument("--suites", metavar="KEY,...", help=f"only these (known: {', '.join(SUITES)})")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of the table")
    parser.add_argument("--no-native", action="store_true", help="skip the suites' own runners")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="also run both pytest plugins on N pytest-xdist workers")
    parser.add_argument("--modules", metavar="NAME,...", help="these of Django's test modules instead of the "
                        "harness's (DJANGO_MODULES, SERVER_MODULES on the servers)")
    options = parser.parse_args()
    keys = options.suites.split(",") if options.suites else list(SUITES)
    unknown = set(keys) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(sorted(unknown))}; known: {', '.join(SUITES)}")
    runners = [runner for runner in RUNNERS if not (options.no_native and runner == "runtests")]
    runners += [f"{plugin} -n{options.workers}" for plugin in ("django", "multidb")] if options.workers else []
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"), "rounds": options.rounds,
            "python": platform.python_version(), "django": harness.django_version(), "workers": options.workers,
            "machine": f"{platform.node()} ({os.cpu_count()} cores, load {load} at start)"}
    bytecode_as_installed()
    workdir = Path(tempfile.mkdtemp(prefix="multidb-realsuites-"))
    prepared: dict[str, harness.Suite] = {}
    try:
        modules = options.modules.split(",") if options.modules else None
        for key in keys:
            prepared[key] = harness.prepare(*SUITES[key], workdir / key, modules=modules)
        times: dict[str, dict[str, list[dict[str, object]]]] = {key: {runner: [] for runner in runners} for key in keys}
        for number in range(options.rounds):
            for key, suite in prepared.items():
                shift = number % len(runners)
                for runner in runners[shift:] + runners[:shift]:
                    times[key][runner].append(run_once(suite, runner))
            print(f"round {number + 1}/{options.rounds} done", file=sys.stderr)
    finally:
        for suite in prepared.values():
            harness.drop_schema_templates(suite)
        shutil.rmtree(workdir, ignore_errors=True)
    result: dict[str, object] = {"suites": {}, "meta": meta}
    for key in keys:
        row: dict[str, object] = {"source": prepared[key].source, "labels": prepared[key].labels}
        for runner in (*RUNNERS, *runners):
            row[f"{runner}_s"] = median(times[key].get(runner, []))
        row["ratio"] = ratio(row["multidb_s"], row["django_s"])
        row["ratio_to_runtests"] = ratio(row["multidb_s"], row["runtests_s"])
        if options.workers:
            row["spread_ratio_to_runtests"] = ratio(row[f"multidb -n{options.workers}_s"], row["runtests_s"])
        row["counts"] = {runner: {k: v for k, v in rows[-1].items() if k != "s"} for runner, rows in times[key].items()}
        row["rounds_s"] = {runner: [round(r["s"], 3) for r in rows] for runner, rows in times[key].items()}
        result["suites"][key] = row
    if options.json:
        print(table(result), file=sys.stderr)
    print(json.dumps(result, indent=2) if options.json else table(result))


if __name__ == "__main__":
    main()
