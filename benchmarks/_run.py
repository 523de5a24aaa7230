"""Helpers shared by the benchmarks: run pytest in a subprocess and time it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run ``python -m pytest args`` in ``cwd``; return (wall seconds, output). Fails loudly on test failures."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
        sys.exit(f"pytest failed ({done.returncode}) in {cwd} with {args}:\n{tail}")
    return seconds, done.stdout


def provisioning_seconds(output: str) -> float:
    """Sum of 'provision + schema' seconds from pytest-multidb's summary lines."""
    return sum(float(a) + float(b) for a, b in re.findall(r"\((\d+\.\d+)s \+ schema (\d+\.\d+)s", output))
