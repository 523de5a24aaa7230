"""Session start-up with a cold and a warm schema cache, on the sample project.

    python benchmarks/startup.py [--sqlite-only] [--runs N]

Runs one test of the sample suite (so the time is start-up, not tests) with an empty pytest cache, then
again with the cache the first run left, N times each; prints the medians and the ratio. Start-up is the
provisioning + schema time pytest-multidb reports for every alias (what the cache changes); the whole
process's wall time (Python, Django and pytest start-up included) is printed beside it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from _run import ROOT, provisioning_seconds, run_pytest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="no PostgreSQL / MariaDB aliases")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    env = {} if options.sqlite_only else {"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"}
    sample = ROOT / "sample_models"
    # One test that declares every alias, so that every alias is provisioned.
    args = ["tests/test_isolation.py::test_rolled_back[0]", "-p", "no:randomly"]
    cold, warm, cold_wall, warm_wall = [], [], [], []
    for _ in range(options.runs):
        cache = Path(tempfile.mkdtemp(prefix="multidb-bench-cache-"))
        try:
            run_args = [*args, "-o", f"cache_dir={cache}"]
            wall, out = run_pytest([*run_args, "--multidb-rebuild"], sample, env)  # cold: builds and stores
            cold.append(provisioning_seconds(out))
            cold_wall.append(wall)
            wall, out = run_pytest(run_args, sample, env)  # warm: restores
            assert "cached" in out, out
            warm.append(provisioning_seconds(out))
            warm_wall.append(wall)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    med = statistics.median
    backends = "sqlite" if options.sqlite_only else "sqlite + PostgreSQL + MariaDB"
    print(f"sample project, {backends}, median of {options.runs} runs")
    print(f"start-up (provision + schema, all aliases): cold {med(cold):.3f}s  warm {med(warm):.3f}s  "
          f"ratio {med(cold) / med(warm):.1f}x")
    print(f"whole pytest process (wall):               cold {med(cold_wall):.3f}s  warm {med(warm_wall):.3f}s  "
          f"ratio {med(cold_wall) / med(warm_wall):.1f}x")


if __name__ == "__main__":
    main()
