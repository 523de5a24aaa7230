"""The demo (README): the sample project's own suite through the plugin, on sqlite alone and on all backends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "sample_models"
#: The sample suite's tests, counted by hand (sample_models/tests: atomic 2, isolation 11, swaps and factories 7,
#: threads and requests 4): a file or test that silently stops being collected or running fails the demo.
SAMPLE_TESTS = 24


@pytest.mark.parametrize("backends", [
    pytest.param({}, id="sqlite"),
    pytest.param({"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"}, id="sqlite+pg+maria",
                 marks=pytest.mark.servers),
])
def test_sample_suite_passes_through_the_plugin(backends, tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "MULTIDB_SAMPLE_PG", "MULTIDB_SAMPLE_MARIA")}
    env.update(backends, MULTIDB_SAMPLE_DIR=str(tmp_path / "real"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-o", f"cache_dir={tmp_path / 'cache'}"],
                          cwd=SAMPLE, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = [line for line in done.stdout.splitlines() if line.startswith("multidb: ") and "schema" in line]
    kinds = {line.split()[1].rstrip(":"): line.split()[2] for line in summary}
    expected = "server" if backends else "sqlite"
    assert kinds == {"default": "sqlite", "a": "sqlite", "b": expected, "c": expected}, summary
    last = done.stdout.splitlines()[-1]
    assert re.fullmatch(rf"=+ {SAMPLE_TESTS} passed in [\d.]+s(?: \([\d:]+\))? =+", last), last
    assert not (tmp_path / "real").exists()  # the configured ("real") sqlite files were never created
    assert not [line for line in (done.stdout + done.stderr).splitlines() if "Warning" in line], done.stdout  # a
    # first run prints no warning
