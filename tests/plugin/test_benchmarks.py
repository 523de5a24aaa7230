"""Smoke tests of ``benchmarks/run.py`` (one sqlite suite, end to end; the JSON has its shape, round trips
counted) and of
``benchmarks/scale.py`` (a tiny size)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.containers import DOCKER_ENV

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_quick_json_run_has_the_documented_shape():
    done = subprocess.run([sys.executable, str(RUN), "--json", "--quick", "--suites", "sqlite_rollback_1_alias",
                           "--no-startup"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    row = result["suites"]["sqlite_rollback_1_alias"]
    assert {"multidb_s", "django_s", "floor_s", "bound_s", "ratio", "ratio_to_floor", "ratio_to_bound",
            "floor_to_bound"} <= set(row)
    assert all(isinstance(row[key], float) for key in ("multidb_s", "django_s", "floor_s", "bound_s"))
    # Round trips counted per test and flavour (roundtrips.py): the tests' own queries at the least, per alias too.
    assert set(row["round_trips_per_test"]) == {"multidb", "django", "floor"}
    assert all(count >= 1 for count in row["round_trips_per_test"].values()), row["round_trips_per_test"]
    assert set(row["round_trips_per_alias"]["floor"]) == {"default"}
    assert set(result["floor"]) >= {"multidb_s", "django_s"}
    assert result["startup"] == {}
    assert "left on the servers" not in done.stderr


SCALE = RUN.with_name("scale.py")


@pytest.mark.servers
def test_scale_run_counts_one_server_and_one_container_per_alias_at_every_size():
    env = {**os.environ, **DOCKER_ENV}
    done = subprocess.run([sys.executable, str(SCALE), "--json", "--tests", "6", "--workers", "1,2"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert [(run["workers"], run["tests"], run["workers_used"], run["servers"], run["containers"])
            for run in result["runs"]] == [(1, 6, 1, 1, 1), (2, 6, 2, 1, 1)]
    assert all(isinstance(run["seconds"], float) for run in result["runs"])
    assert "| -n | wall s | workers | servers (b) | containers (c) |" in done.stderr
