"""The CI gate: a skipped test or an empty run fails the test command (scripts/no_skips.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GATE = Path(__file__).resolve().parents[2] / "scripts" / "no_skips.py"


def _gate(pytester: pytest.Pytester, source: str) -> subprocess.CompletedProcess:
    pytester.makepyfile(test_gate=source)
    pytester.runpytest_subprocess("-p", "no:multidb", "-p", "no:django", "--junitxml=report.xml")
    return subprocess.run([sys.executable, str(GATE), str(pytester.path / "report.xml")],
                          capture_output=True, text=True)


def test_passing_run_passes(pytester):
    done = _gate(pytester, "def test_ok():\n    pass\n")
    assert done.returncode == 0 and "ok: 1 tests, 0 skipped" in done.stdout


def test_a_skipped_server_test_fails_the_gate(pytester):
    done = _gate(pytester, "import pytest\n\ndef test_ok():\n    pass\n\n"
                           "@pytest.mark.skip(reason='no PostgreSQL')\ndef test_pg():\n    pass\n")
    assert done.returncode == 1
    assert "1 test(s) skipped, every test must run here: test_gate::test_pg" in done.stderr


def test_no_test_fails_the_gate(pytester):
    done = _gate(pytester, "# nothing here\n")
    assert done.returncode == 1 and "no test ran" in done.stderr
