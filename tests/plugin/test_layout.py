"""The plugin's layout holds: ``plugin.py`` holds only hooks, every fixture lives in ``fixtures.py`` (the
user's) or ``plugin_fixtures.py`` (the plugin's own; pytest-django's vocabulary in ``compat/``: the plugin
``compat/pytest_django.py`` with its autouse fixtures, and the fixture modules it registers), and
provisioning (``session.py``, with the per-alias state it owns) imports nothing of the per-test isolation."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_multidb"


def _tree(name: str) -> ast.Module:
    return ast.parse((PACKAGE / name).read_text())


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "fixture"


def test_plugin_module_defines_only_hooks():
    defined = [node for node in _tree("plugin.py").body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    assert defined, "plugin.py defines no hooks at all"
    assert [node.name for node in defined if not node.name.startswith("pytest_")] == []


def test_every_fixture_is_defined_in_a_fixtures_module():
    fixtures = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(_is_fixture(d) for d in node.decorator_list):
                fixtures[node.name] = path.relative_to(PACKAGE).as_posix()
    assert {"_multidb_session", "_multidb_test", "swap_db", "uses_db"} <= set(fixtures)
    assert {where for where in fixtures.values()} <= {"fixtures.py", "plugin_fixtures.py", "compat/pytest_django.py",
                                                      "compat/database_fixtures.py", "compat/django_fixtures.py"}
    assert fixtures["swap_db"] == fixtures["uses_db"] == "fixtures.py"  # the user's
    assert fixtures["_multidb_test"] == fixtures["_multidb_session"] == "plugin_fixtures.py"  # the plugin's own


def test_provisioning_does_not_import_the_per_test_side():
    code = (
        "import sys, django; django.setup(); import pytest_multidb.session; "
        "print(sorted(m for m in sys.modules if m in ('pytest_multidb.isolation', 'pytest_multidb.thread_sharing')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PACKAGE.parent),
                               "DJANGO_SETTINGS_MODULE": "tests.layer_settings"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
