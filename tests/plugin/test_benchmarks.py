"""Smoke test of ``benchmarks/run.py``: one sqlite suite, end to end; the JSON has its shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_quick_json_run_has_the_documented_shape():
    done = subprocess.run([sys.executable, str(RUN), "--json", "--quick", "--suites", "sqlite_rollback_1_alias",
                           "--no-startup"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    row = result["suites"]["sqlite_rollback_1_alias"]
    assert {"multidb_s", "django_s", "floor_s", "ratio", "ratio_to_floor"} <= set(row)
    assert all(isinstance(row[key], float) for key in ("multidb_s", "django_s", "floor_s"))
    assert set(result["floor"]) >= {"multidb_s", "django_s"}
    assert result["startup"] == {}
    assert "left on the servers" not in done.stderr
