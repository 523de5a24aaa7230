"""A single-database project passes its plain Django test suite unchanged with pytest_multidb
installed (and the same suite passes without it)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1] / "single_db_project"


@pytest.mark.parametrize(("settings_module", "with_multidb"), [
    ("project.settings", True),
    ("project.settings_without_multidb", False),
])
def test_plain_django_suite_of_a_single_database_project(settings_module, with_multidb):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MULTIDB_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = settings_module
    result = subprocess.run([sys.executable, "-m", "django", "test", "--noinput", "-v", "2"], cwd=PROJECT, env=env,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Ran 6 tests in" in result.stderr
    assert "\nOK\n" in result.stderr
    assert ("Synchronize unmigrated apps: multidb" in result.stdout) is with_multidb
