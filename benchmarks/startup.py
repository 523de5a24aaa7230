"""Session start-up with a cold and a warm schema cache, on the sample project.

    python benchmarks/startup.py [--sqlite-only] [--runs N]

Runs one test that declares every alias of the sample project (so the time is start-up, not tests) with an
empty pytest cache, then again with the cache the first run left; N times each; prints the medians and the
ratio. Start-up is the provisioning + schema time of every alias as the ``multidb`` fixture reports it
(what the cache changes); the whole process's wall time (Python, Django and pytest start-up included) is
printed beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

from _run import run_pytest

TEST = """
import json
import pytest


@pytest.mark.uses_db("default", "a", "b", "c")
def test_start(multidb):
    with open("startup.json", "w") as out:
        json.dump({alias: [info["provision_seconds"], info["install_seconds"], info["schema"]]
                   for alias, info in multidb.items()}, out)
"""


def one_run(directory: Path, env: dict[str, str], *extra: str) -> tuple[float, float, set[str]]:
    """(start-up seconds, wall seconds, schema sources) of one session."""
    wall, _ = run_pytest(["-p", "multidb", "-p", "no:django", "-p", "no:randomly", "--multidb-settings",
                          "sample_models.settings", "-o", f"cache_dir={directory / 'cache'}", *extra,
                          "test_start.py"], directory, env)
    found = json.loads((directory / "startup.json").read_text())
    return sum(p + i for p, i, _ in found.values()), wall, {source for _, _, source in found.values()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="no PostgreSQL / MariaDB aliases")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    env = {} if options.sqlite_only else {"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"}
    cold, warm, cold_wall, warm_wall = [], [], [], []
    for _ in range(options.runs):
        directory = Path(tempfile.mkdtemp(prefix="multidb-bench-startup-"))
        try:
            (directory / "test_start.py").write_text(TEST)
            env["MULTIDB_SAMPLE_DIR"] = str(directory / "real")
            seconds, wall, sources = one_run(directory, env, "--multidb-rebuild")  # cold: build and store
            assert sources == {"built"}, sources
            cold.append(seconds)
            cold_wall.append(wall)
            seconds, wall, sources = one_run(directory, env)  # warm: restore
            assert sources == {"cached"}, sources
            warm.append(seconds)
            warm_wall.append(wall)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    med = statistics.median
    backends = "sqlite" if options.sqlite_only else "sqlite + PostgreSQL + MariaDB"
    print(f"sample project (aliases default, a, b, c), {backends}, median of {options.runs} runs")
    print(f"start-up (provision + schema, all aliases): cold {med(cold):.3f}s  warm {med(warm):.3f}s  "
          f"ratio {med(cold) / med(warm):.1f}x")
    print(f"whole pytest process (wall):               cold {med(cold_wall):.3f}s  warm {med(warm_wall):.3f}s  "
          f"ratio {med(cold_wall) / med(warm_wall):.1f}x")


if __name__ == "__main__":
    main()
