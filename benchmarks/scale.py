"""Scale run: the same suite under ``pytest -n 1, 2, 4``, with a ``process`` and a ``container`` alias.

    python benchmarks/scale.py [--tests 300] [--workers 1,2,4] [--json]

(``--json``: the JSON on stdout, the table on stderr.)

The suite is the sample project (``sample_models``): ``--tests`` tests over 10 files, each writing a row on alias
``b`` (PostgreSQL, ``--multidb-provision b=process``) and ``c`` (MariaDB, ``c=container``). Under xdist the
workers share one server per alias (``pytest_multidb/provision/xdist.py``). Each session is a fresh process,
timed from outside (wall clock, provisioning and teardown included). The server / container count is what the
tests saw: every test records the server pid of ``b`` and the container of ``c`` it ran against; the table shows
how many distinct ones there were, and how many workers.

Needs the ``process`` kind's PostgreSQL binaries and a Docker engine with the images named by
``MULTIDB_PG_IMAGE`` / ``MULTIDB_MARIA_IMAGE`` (default here: the locally built ``multidb-test/*`` images of
``.ci/docker.sh``). ``TESTCONTAINERS_*`` / ``TC_HOST`` / ``DOCKER_HOST`` are passed on. Everything runs with a
registry of its own (``MULTIDB_REGISTRY`` in a temp dir); the run fails if a record is left in it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout measured
FILES = 10
IMAGES = {"MULTIDB_PG_IMAGE": "multidb-test/postgres:15", "MULTIDB_MARIA_IMAGE": "multidb-test/mariadb:10.11"}

TEST_FILE = """
import json, os
import pytest
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("b", "c")
@pytest.mark.parametrize("n", range({count}))
def test_writes(n, multidb):
    Widget.objects.create(code=str(n), weight=n)
    Category.objects.create(name=str(n))
    assert (Widget.objects.count(), Category.objects.count()) == (1, 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.path.join(os.environ["SCALE_USED"], f"{{worker}}.jsonl"), "a") as out:
        out.write(json.dumps([worker, multidb["b"]["pid"], multidb["c"]["container"]]) + "\\n")
"""


def generate(directory: Path, tests: int) -> None:
    """``tests`` tests over ``FILES`` files (so that xdist has files to spread)."""
    per, extra = divmod(tests, FILES)
    for number in range(FILES):
        count = per + (1 if number < extra else 0)
        if count:
            (directory / f"test_scale_{number}.py").write_text(TEST_FILE.format(count=count))


def environment(work: Path, used: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "DJANGO_", "MULTIDB_")) and key != "PYTHONPATH"}
    env.update({name: os.environ.get(name, image) for name, image in IMAGES.items()})
    (work / "real").mkdir(exist_ok=True)
    env.update({"PYTHONPATH": str(ROOT), "MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1",
                "MULTIDB_SAMPLE_DIR": str(work / "real"), "MULTIDB_REGISTRY": str(work / "registry"),
                "MULTIDB_CACHE_DIR": str(work / "cache"), "SCALE_USED": str(used)})
    return env


def measure(work: Path, tests: int, workers: int) -> dict[str, object]:
    """One session with ``-n workers``: wall seconds, workers, distinct servers and containers the tests used."""
    used = work / f"used-n{workers}"
    used.mkdir()
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:django", "-p", "no:cacheprovider",
            "-p", "xdist", "-n", str(workers), "--multidb-settings", "sample_models.settings",
            "--multidb-provision", "b=process", "--multidb-provision", "c=container"]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=work, env=environment(work, used), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    passed = re.search(r"(\d+) passed", done.stdout)
    if done.returncode != 0 or passed is None or int(passed.group(1)) != tests:
        sys.exit(f"-n {workers} failed (exit {done.returncode}, {tests} tests expected) in {work}:\n"
                 f"{done.stdout[-4000:]}\n{done.stderr[-3000:]}")
    rows = [json.loads(line) for path in used.glob("*.jsonl") for line in path.read_text().splitlines()]
    return {"workers": workers, "seconds": round(seconds, 2), "tests": len(rows),
            "workers_used": len({row[0] for row in rows}), "servers": len({row[1] for row in rows}),
            "containers": len({row[2] for row in rows})}


def table(rows: list[dict[str, object]], tests: int) -> str:
    lines = [f"scale: {tests} tests, alias b = process (PostgreSQL), c = container (MariaDB)",
             "| -n | wall s | workers | servers (b) | containers (c) |",
             "|---:|-------:|--------:|------------:|---------------:|"]
    lines += [f"| {row['workers']} | {row['seconds']:.1f} | {row['workers_used']} | {row['servers']} | "
              f"{row['containers']} |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated -n values")
    parser.add_argument("--json", action="store_true", help="the JSON on stdout, the table on stderr")
    options = parser.parse_args()
    counts = [int(n) for n in options.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="multidb-scale-") as tmp:
        work = Path(tmp)
        generate(work, options.tests)
        rows = [measure(work, options.tests, n) for n in counts]
        left = sorted((work / "registry").glob("*.json"))
        if left:
            sys.exit(f"left in the registry (not cleaned up): {', '.join(path.name for path in left)}")
    text = table(rows, options.tests)
    if options.json:
        print(text, file=sys.stderr)
        print(json.dumps({"tests": options.tests, "runs": rows}))
    else:
        print(text)


if __name__ == "__main__":
    main()
