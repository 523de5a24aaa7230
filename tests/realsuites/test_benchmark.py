"""Smoke test of ``benchmarks/realsuites.py``: one small Django module, one round, the JSON has its shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "realsuites.py"


def test_one_module_json_run_has_the_documented_shape():
    done = subprocess.run([sys.executable, str(BENCH), "--json", "--suites", "django-sqlite", "--modules", "defer"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    row = json.loads(done.stdout)["suites"]["django-sqlite"]
    assert row["labels"] == ["defer"]
    assert all(isinstance(row[f"{runner}_s"], float) for runner in ("runtests", "django", "multidb"))
    assert row["counts"]["runtests"]["tests"] == row["counts"]["django"]["tests"] > 0
    assert "| django-sqlite (Django==" in done.stderr
