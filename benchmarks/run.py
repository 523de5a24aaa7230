"""pytest-multidb beside pytest-django and the hand-written floor, on a realistic multi-database project.

    python benchmarks/run.py [--rounds N] [--quick] [--json] [--suites NAME,...] [--no-startup]
                             [--no-round-trips] [--keep DIR]

(``--json``: the JSON on stdout, the table on stderr.)

Generates a project (64 models over 4 apps with migrations, FKs, M2Ms and indexes; aliases ``default`` and
``archive`` on sqlite, ``pg`` on PostgreSQL at 127.0.0.1:5432, ``maria`` on MariaDB at 127.0.0.1:3306; a
router), one copy per flavour, and runs every suite through:

- **multidb**: ``pytest -p no:django`` (``uses_db`` markers; the ``django_db`` and TestCase suites unchanged);
- **django**: ``pytest -p no:multidb --reuse-db`` (``django_db(databases=...)``; sqlite test databases are
  pytest-django's default, in memory);
- **floor**: ``pytest -p no:django -p no:multidb`` with a ten-line conftest that opens ``atomic()`` per
  declared alias and rolls it back, on databases migrated beforehand: the physical floor of isolation
  (its sqlite aliases are plain files, Django's defaults);
- **bound**: the floor's databases with no per-test isolation at all: one ``atomic()`` per alias for the whole
  session (tests see each other's rows; not a way to test). What the suites' own queries cost: the lower bound
  of any per-test isolation, measured for the rollback suites of pytest tests.

Every pytest session is a fresh process, timed from outside (wall clock). Rounds are interleaved (each round
runs every suite of every flavour, the flavours' order rotating) and medians taken. Per-test overhead of a
suite = (suite - the no-DB suite of the same size and shape, same flavour, same round) / tests; it includes
session start (provisioning, migrations or cache restore) spread over the suite. A figure whose median is
<= 0 is reported as ``negative``, one whose rounds spread wider than its median as ``noisy``; neither is
divided into a ratio. Ratios: multidb / django, multidb / floor and multidb / bound; floor / bound is how far
below the floor any isolation could go (lower is better).

Round trips: each suite once more per flavour, untimed, with ``roundtrips.py`` (a pytest plugin: an execute
wrapper on every connection, and the driver's transaction control) counting what each test sends to the
servers, its own queries included (``--no-round-trips``: not counted).

Start-up: one 4-alias test net of one no-DB test: ``warm`` (schema cache / ``--reuse-db`` databases ready),
``cold`` (``--multidb-rebuild`` / ``--reuse-db --create-db``), ``warm_nocache`` (the warm run with
``-p no:cacheprovider``).

Every database the benchmark makes carries a random token in its name; all are dropped at the end (also on
failure or Ctrl-C), and the run fails if one is left.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from project import (  # benchmarks/ (the script's dir)
    START_DB,
    START_NODB,
    Suite,
    bytecode_as_installed,
    clean_env,
    generate,
    suites,
)

ROOT = Path(__file__).resolve().parent.parent  # the checkout measured: its pytest_multidb comes first on the path

COMMON = ["-q", "-p", "no:randomly", "-p", "no:xdist"]
FLAGS = {
    "multidb": ["-p", "no:django"],
    "django": ["-p", "no:multidb", "--reuse-db"],
    "floor": ["-p", "no:django", "-p", "no:multidb"],
    "bound": ["-p", "no:django", "-p", "no:multidb"],
}
STARTUP = {  # kind: (multidb flags, django flags)
    "cold": (["--multidb-rebuild"], ["--create-db"]),
    "warm": ([], []),
    "warm_nocache": (["-p", "no:cacheprovider"], ["-p", "no:cacheprovider"]),
}


class Bench:
    """The generated project copies, their environment, and every timing taken (``times[key]`` per round)."""

    def __init__(self, root: Path, quick: bool) -> None:
        self.token = secrets.token_hex(4)
        # MULTIDB_KEEP: the project's copies (one per flavour, each with a cache of its own) share their NAMEs; a
        # user's checkout has one or two caches, so the bound on what stays on a server must not evict between them.
        self.env = {**clean_env(), "DJANGO_SETTINGS_MODULE": "bench_settings",
                    "BENCH_DB_PREFIX": f"bench_{self.token}", "MULTIDB_KEEP": "16"}
        self.copies = generate(root, quick, self.env)
        self.times: dict[tuple[str, ...], list[float]] = {}
        #: (suite, flavour) -> round trips per test (``roundtrips.py``), in all and per alias.
        self.counts: dict[tuple[str, str], dict[str, object]] = {}

    def pytest(self, flavour: str, test_file: str, *extra: str, expect: int,
               env: dict[str, str] | None = None) -> float:
        """Run one pytest session of ``flavour``; return its wall seconds. Fails loudly unless all passed."""
        cwd = self.copies[flavour]
        floor = "1" if flavour in ("floor", "bound") else ""  # the bound runs on the floor's databases
        env = {**self.env, "PYTHONPATH": f"{cwd}{os.pathsep}{ROOT}", "BENCH_FLOOR": floor, **(env or {})}
        args = [sys.executable, "-m", "pytest", *COMMON, *FLAGS[flavour], *extra, f"suites/{test_file}"]
        start = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        passed = re.search(r"(\d+) passed", done.stdout)
        if done.returncode != 0 or passed is None or int(passed.group(1)) != expect:
            sys.exit(f"{flavour}: {' '.join(args[3:])} failed (exit {done.returncode}, {expect} tests expected) "
                     f"in {cwd}:\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}")
        return seconds

    def admin(self, *args: str, floor: bool = False) -> str:
        cwd = self.copies["floor"]
        env = {**self.env, "PYTHONPATH": str(cwd), "BENCH_FLOOR": "1" if floor else ""}
        done = subprocess.run([sys.executable, "bench_admin.py", *args], cwd=cwd, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise RuntimeError(f"bench_admin.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def record(self, key: tuple[str, ...], seconds: float) -> None:
        self.times.setdefault(key, []).append(seconds)

    def startup_round(self) -> None:
        """Cold, warm, warm without the cache provider: one 4-alias test, and one no-DB test beside each."""
        for kind, (multidb_flags, django_flags) in STARTUP.items():
            for tool, flags in (("multidb", multidb_flags), ("django", django_flags)):
                nodb = ["-p", "no:cacheprovider"] if kind == "warm_nocache" else []
                self.record(("startup", kind, tool), self.pytest(tool, f"test_{START_DB.name}.py", *flags, expect=1))
                self.record(("startup", kind, tool, "nodb"),
                            self.pytest(tool, f"test_{START_NODB.name}.py", *nodb, expect=1))

    def round_trips(self, measured: list[Suite]) -> None:
        """Each suite once more per flavour, untimed, with ``roundtrips.py`` counting each test's round trips."""
        for suite in measured:
            if not suite.aliases:
                continue
            for flavour in ["multidb", "django"] + ([] if suite.transaction else ["floor"]):
                shutil.copy(Path(__file__).with_name("roundtrips.py"), self.copies[flavour] / "roundtrips.py")
                out = self.copies[flavour] / "roundtrips.json"
                self.pytest(flavour, f"test_{suite.name}.py", "-p", "roundtrips", expect=suite.tests,
                            env={"BENCH_ROUNDTRIPS_OUT": str(out)})
                counted = json.loads(out.read_text())
                self.counts[(suite.name, flavour)] = {
                    "per_test": round(sum(counted["round_trips"].values()) / max(counted["tests"], 1), 2),
                    "per_alias": {alias: round(n / max(counted["tests"], 1), 2)
                                  for alias, n in sorted(counted["round_trips"].items())},
                }

    def suite_round(self, number: int, measured: list[Suite]) -> None:
        bound_baselines = {suite.baseline for suite in measured if bounded(suite)}
        for suite in measured:
            flavours = ["multidb", "django"] + ([] if suite.transaction else ["floor"])
            flavours += ["bound"] if bounded(suite) or suite.name in bound_baselines else []
            shift = number % len(flavours)
            for flavour in flavours[shift:] + flavours[:shift]:
                self.record(("suite", suite.name, flavour),
                            self.pytest(flavour, f"test_{suite.name}.py", expect=suite.tests))


def bounded(suite: Suite) -> bool:
    """Whether ``suite`` is measured against the bound too: rollback suites of pytest tests (Django's test classes
    isolate themselves; committing tests are emptied, not rolled back)."""
    return bool(suite.aliases) and not suite.transaction and suite.style != "testcase"


def net(times: list[float], baseline: list[float], per: int) -> dict[str, object]:
    """Median of the per-round (suite - baseline) / per, with its status: ok, negative or noisy."""
    rounds = [(t - b) / per for t, b in zip(times, baseline, strict=True)]
    median = statistics.median(rounds)
    spread = max(rounds) - min(rounds)
    status = "negative" if median <= 0 else "noisy" if len(rounds) > 1 and spread > median else "ok"
    return {"s": median, "status": status, "rounds": rounds}


def ratio(a: dict[str, object] | None, b: dict[str, object] | None) -> float | None:
    if a is None or b is None or a["status"] != "ok" or b["status"] != "ok":
        return None
    return round(a["s"] / b["s"], 3)


def report(bench: Bench, measured: list[Suite]) -> dict[str, object]:
    """The JSON result: per-test overheads and ratios of the suites, the no-DB suite, start-up."""
    times, out = bench.times, {"suites": {}, "floor": {}, "startup": {}}
    by_name = {suite.name: suite for suite in measured}
    for suite in measured:
        if not suite.baseline:
            continue
        base = by_name[suite.baseline]
        row = {}
        for flavour in ("multidb", "django", "floor", "bound"):
            key = ("suite", suite.name, flavour)
            row[flavour] = net(times[key], times[("suite", base.name, flavour)], suite.tests) if key in times else None
        out["suites"][suite.name] = {
            "tests": suite.tests,
            **{f"{flavour}_s": (None if row[flavour] is None else round(row[flavour]["s"], 6))
               for flavour in row},
            "ratio": ratio(row["multidb"], row["django"]),
            "ratio_to_floor": ratio(row["multidb"], row["floor"]),
            "ratio_to_bound": ratio(row["multidb"], row["bound"]),
            "floor_to_bound": ratio(row["floor"], row["bound"]),
            "status": {flavour: row[flavour]["status"] for flavour in row if row[flavour]},
            "rounds_s": {flavour: [round(r, 6) for r in row[flavour]["rounds"]] for flavour in row if row[flavour]},
            "round_trips_per_test": {flavour: bench.counts[(suite.name, flavour)]["per_test"]
                                     for flavour in row if (suite.name, flavour) in bench.counts},
            "round_trips_per_alias": {flavour: bench.counts[(suite.name, flavour)]["per_alias"]
                                      for flavour in row if (suite.name, flavour) in bench.counts},
        }
    nodb = measured[0]
    out["floor"] = {"tests": nodb.tests}
    for flavour in ("multidb", "django", "floor"):
        out["floor"][f"{flavour}_s"] = round(statistics.median(times[("suite", nodb.name, flavour)]), 3)
    for kind in STARTUP if ("startup", "warm", "multidb") in times else ():
        row = {tool: net(times[("startup", kind, tool)], times[("startup", kind, tool, "nodb")], 1)
               for tool in ("multidb", "django")}
        out["startup"][kind] = {"multidb_s": round(row["multidb"]["s"], 3), "django_s": round(row["django"]["s"], 3),
                                "ratio": ratio(row["multidb"], row["django"]),
                                "status": {tool: row[tool]["status"] for tool in row}}
    return out


def table(result: dict[str, object], meta: dict[str, object]) -> str:
    """The human-readable table of ``result``."""

    def figure(value: float | None, status: str = "ok", unit: str = "ms") -> str:
        if value is None:
            return "-"
        text = f"{value * 1e3:.2f} ms" if unit == "ms" else f"{value:.3f} s"
        return text if status == "ok" else f"{text} ({status})"

    def x(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [f"pytest-multidb {meta['revision']} benchmark, {meta['date']}, {meta['machine']}, "
             f"median of {meta['rounds']} rounds"
             f"{' (quick)' if meta['quick'] else ''}", "",
             "| per-test overhead | tests | pytest-django | pytest-multidb | floor | bound | ratio | ratio to floor "
             "| ratio to bound | floor to bound |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in result["suites"].items():
        cells = [figure(row[f"{flavour}_s"], row["status"].get(flavour, "ok")) for flavour in ("django", "multidb",
                                                                                                 "floor", "bound")]
        lines.append(f"| {name} | {row['tests']} | {' | '.join(cells)} | {x(row['ratio'])} | "
                     f"{x(row['ratio_to_floor'])} | {x(row['ratio_to_bound'])} | {x(row['floor_to_bound'])} |")
    counted = {name: row["round_trips_per_test"] for name, row in result["suites"].items()
               if row.get("round_trips_per_test")}
    if counted:
        lines += ["", "| round trips per test (roundtrips.py) | pytest-django | pytest-multidb | floor |",
                  "|---|---|---|---|"]
        lines += [f"| {name} | " + " | ".join(str(row.get(flavour, "-")) for flavour in ("django", "multidb", "floor"))
                  + " |" for name, row in counted.items()]
    floor = result["floor"]
    lines += ["", f"no-DB suite ({floor['tests']} tests, whole session): pytest-django {floor['django_s']:.2f} s, "
                  f"pytest-multidb {floor['multidb_s']:.2f} s, floor {floor['floor_s']:.2f} s", "",
              "| start-up (one 4-alias test, net of a no-DB test) | pytest-django | pytest-multidb | ratio |",
              "|---|---|---|---|"]
    for kind, row in result["startup"].items():
        cells = [figure(row[f"{tool}_s"], row["status"][tool], unit="s") for tool in ("django", "multidb")]
        lines.append(f"| {kind} | {' | '.join(cells)} | {x(row['ratio'])} |")
    return "\n".join(lines)


def revision() -> str:
    """The measured checkout's commit, ``+dirty`` with uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain", "--", "pytest_multidb")
                                                   else "")


def machine() -> str:
    cpus = os.cpu_count()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{platform.node()} ({platform.system()} {platform.machine()}, {cpus} cores, load {load} at start)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="a few tests per suite, one round: a smoke run")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of the table")
    parser.add_argument("--suites", metavar="NAME,...", help="only these suites (their no-DB baselines too)")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurements")
    parser.add_argument("--no-round-trips", action="store_true", help="skip counting round trips per test")
    parser.add_argument("--keep", metavar="DIR", help="generate the project in DIR and keep it (not the databases)")
    options = parser.parse_args()
    rounds = 1 if options.quick else options.rounds
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"), "machine": machine(),
            "rounds": rounds, "quick": options.quick, "python": platform.python_version(),
            "revision": revision()}
    measured = suites(options.quick)
    if options.suites:
        wanted = set(options.suites.split(","))
        unknown = wanted - {suite.name for suite in measured if suite.baseline}
        if unknown:
            parser.error(f"unknown suite(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(suite.name for suite in measured if suite.baseline)}")
        wanted |= {suite.baseline for suite in measured if suite.name in wanted}
        measured = [suite for suite in measured if suite.name in wanted or suite.name == "nodb"]
    bytecode_as_installed()
    root = Path(options.keep) if options.keep else Path(tempfile.mkdtemp(prefix="multidb-bench-"))
    bench, finished = None, False
    try:
        bench = Bench(root, options.quick)
        floor_aliases = sorted({alias for suite in measured if not suite.transaction for alias in suite.aliases})
        if floor_aliases:
            bench.admin("create-floor", *floor_aliases, floor=True)
            for made in bench.copies["floor"].glob("floor_*.sqlite3"):  # the bound's sqlite databases: the floor's
                shutil.copy(made, bench.copies["bound"] / made.name)
        for number in range(rounds):
            if not options.no_startup:
                bench.startup_round()
            bench.suite_round(number, measured)
            print(f"round {number + 1}/{rounds} done", file=sys.stderr)
        if not options.no_round_trips:
            bench.round_trips(measured)
        result = report(bench, measured)
        finished = True
    finally:
        if bench is not None:
            try:
                print(bench.admin("drop", bench.token), end="", file=sys.stderr)
                left = bench.admin("drop", bench.token)
            except RuntimeError as error:
                left = f"{error}\nthe benchmark's databases may be left on the servers; drop them with:\n" \
                       f"  cd {bench.copies['floor']} && PYTHONPATH=. DJANGO_SETTINGS_MODULE=bench_settings " \
                       f"{sys.executable} bench_admin.py drop {bench.token}"
            if left:  # printed, not raised: an error of the run itself stays the one reported
                print(f"cleanup failed, left on the servers:\n{left}", file=sys.stderr)
                options.keep = True  # the project stays, for bench_admin.py
                if finished:
                    sys.exit(1)
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    result["meta"] = meta
    if options.json:
        print(table(result, meta), file=sys.stderr)
    print(json.dumps(result, indent=2) if options.json else table(result, meta))


if __name__ == "__main__":
    main()
