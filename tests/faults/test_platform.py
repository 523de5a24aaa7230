"""The plugin on a platform without the POSIX-only modules ``fcntl`` and ``pwd``.

A stand-in for Windows (which this machine is not): the inner interpreter starts with both modules made
unimportable (``sys.modules[name] = None`` in a ``sitecustomize`` put first on ``PYTHONPATH``), then runs a tiny
sqlite suite through the plugin twice, so that the schema cache (and its lock) is used cold and warm.
"""

from __future__ import annotations

import os

HIDE = '''
"""Stand-in for Windows: the POSIX-only modules cannot be imported (a None entry makes ``import`` fail)."""
import sys

for name in ("fcntl", "pwd"):
    sys.modules[name] = None
'''

SUITE = '''
import importlib

import pytest

from inner_helpers import add, count


def test_posix_only_modules_are_hidden():
    for name in ("fcntl", "pwd"):
        with pytest.raises(ImportError):
            importlib.import_module(name)


def test_every_provisioner_module_is_loaded():
    from pytest_multidb.provision import PROVISIONERS

    assert set(PROVISIONERS) == {"sqlite", "server", "process", "container", "existing"}


@pytest.mark.uses_db("a", "b", "c")
@pytest.mark.parametrize("n", range(2))
def test_isolated(n):
    for alias in "abc":
        assert count(alias) == 0
        add(alias, f"row{n}")
        assert count(alias) == 1


@pytest.mark.uses_db("b", transaction=True)
def test_committed():
    add("b", "kept")
'''


def test_the_plugin_runs_without_fcntl_and_pwd(inner, pytester, monkeypatch):
    hide = pytester.mkdir("windows_stand_in")
    (hide / "sitecustomize.py").write_text(HIDE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hide), os.environ["PYTHONPATH"]]))
    pytester.makepyfile(test_suite=SUITE)

    cold, warm = inner(), inner()

    for run in (cold, warm):
        run.result.assert_outcomes(passed=5)
        assert "Traceback" not in run.out + run.err
    assert {alias: line["cache"] for alias, line in cold.summary().items()} == dict.fromkeys("abc", "built")
    assert {alias: line["cache"] for alias, line in warm.summary().items()} == dict.fromkeys("abc", "cached")
    assert list(inner.real_dir.iterdir()) == []
