"""Schema-cache templates do not pile up on the server: a template whose cache (on this host) is gone is dropped by
the next store, by its own stamp, never by its name; a template whose cache lives on, or that another host's
cache made, is left alone."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid

import pytest

from pytest_multidb.footprint import cache_stamp
from tests.support.inner import PLUGINS
from tests.support.projects import ROOT
from tests.support.servers import POSTGRES

pytestmark = pytest.mark.servers

SUITE = '''
import pytest
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("b")
def test_widgets():
    Widget.objects.create(code="w", weight=1)
'''


SETTINGS = '''
from sample_models.settings import *  # noqa: F403

OTHER_DATABASES["b"] = {{**POSTGRES, "NAME": "{name}"}}  # noqa: F405  (a database name of this test alone)
'''


def _templates(servers, real_name: str) -> dict[str, str | None]:
    rows = servers.pg("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                      f"WHERE datname LIKE 'multidb_tpl_{real_name}_%'")
    return dict(rows)


def test_templates_of_a_deleted_cache_are_dropped_and_no_other(inner, pytester, servers, real):
    real_name = f"multidb_orph{uuid.uuid4().hex[:8]}"
    pytester.makepyfile(test_widgets=SUITE, inner_settings=SETTINGS.format(name=real_name))
    args = ("--multidb-settings", "inner_settings")
    cache_dir = pytester.path / ".pytest_cache"
    alive_dir = pytester.path / "another-checkout"
    alive_dir.mkdir()
    (alive_dir / "templates.json").write_text(json.dumps({"id": "x", "templates": []}))  # a cache that lives on
    # Beside ours: one of a cache that still exists, one stamped by nobody we know; both must survive.
    alive, foreign = (f"multidb_tpl_{name}_{uuid.uuid4().hex[:8]}" for name in ("alive", "foreign"))
    servers.pg(f'CREATE DATABASE "{alive}"')
    servers.pg(f"COMMENT ON DATABASE \"{alive}\" IS '{cache_stamp('x', alive_dir, 'template')}'")
    servers.pg(f'CREATE DATABASE "{foreign}"')
    servers.pg(f"COMMENT ON DATABASE \"{foreign}\" IS 'pytest-multidb template x cache=elsewhere:/gone'")
    try:
        inner(*args, settings=False, backend=POSTGRES).result.assert_outcomes(passed=1)
        ours = f"cache={socket.gethostname()}:{(cache_dir / 'd' / 'multidb').resolve()}"
        first = {name: stamp for name, stamp in _templates(servers, real_name).items()
                 if stamp and stamp.endswith(ours)}
        assert len(first) == 1  # this checkout's template of the sample's schema

        shutil.rmtree(cache_dir)  # the checkout's cache is gone: a fresh clone at the same path, as CI makes
        inner(*args, "--multidb-rebuild", settings=False, backend=POSTGRES).result.assert_outcomes(passed=1)

        names = {name for (name,) in servers.pg("SELECT datname FROM pg_database")}
        assert {alive, foreign} <= names  # left alone
        again = {name: stamp for name, stamp in _templates(servers, real_name).items()
                 if stamp and stamp.endswith(ours)}
        # The orphan was dropped and the schema's template made afresh by the new cache (a new cache id):
        assert list(again) == list(first) and again != first
    finally:
        for name in (alive, foreign):
            servers.pg(f'DROP DATABASE IF EXISTS "{name}"')
        for name, stamp in _templates(servers, real_name).items():
            if stamp and str(pytester.path) in stamp:
                servers.pg(f'DROP DATABASE IF EXISTS "{name}"')



def _checkout(root, name: str, real_name: str):
    """A checkout of the project of its own (its own pytest cache, so its own schema cache) at ``root / name``."""
    path = root / name
    path.mkdir()
    (path / "test_widgets.py").write_text(SUITE)
    (path / "inner_settings.py").write_text(SETTINGS.format(name=real_name))
    (path / "real").mkdir()
    return path


def _run_checkouts(paths, *args: str) -> list[subprocess.CompletedProcess]:
    """Run pytest in every checkout at the same moment (separate processes), as two CI jobs on one server do."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MULTIDB_SAMPLE_PG": "1", "MULTIDB_WARM": "0"}
    for variable in ("DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "MULTIDB_CACHE_DIR"):
        env.pop(variable, None)
    started = [subprocess.Popen([sys.executable, "-m", "pytest", *PLUGINS, "--multidb-settings", "inner_settings",
                                 *args], cwd=path, env={**env, "MULTIDB_SAMPLE_DIR": str(path / "real"),
                                                        "MULTIDB_REGISTRY": str(path / "registry")},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for path in paths]
    return [subprocess.CompletedProcess(process.args, process.wait(timeout=180), process.communicate()[0])
            for process in started]


def test_checkouts_storing_one_schema_at_the_same_moment_share_one_template(pytester, servers):
    """Two checkouts of one project (one configured NAME, one schema) build cold at once: both store the same
    template name; the one that loses uses the winner's template and records nothing of it (it was a failed
    ``CREATE DATABASE``, an error in every test, when the name was only checked before)."""
    real_name = f"multidb_race{uuid.uuid4().hex[:8]}"
    paths = [_checkout(pytester.path, name, real_name) for name in ("one", "two", "three")]
    try:
        for _attempt in range(3):  # cold each time: a fresh cache per checkout, no template on the server
            for name in _templates(servers, real_name):
                servers.pg(f'DROP DATABASE IF EXISTS "{name}"')
            for path in paths:
                shutil.rmtree(path / ".pytest_cache", ignore_errors=True)
            for done in _run_checkouts(paths):
                assert done.returncode == 0, done.stdout
                assert "1 passed" in done.stdout, done.stdout
            templates = _templates(servers, real_name)
            assert len(templates) == 1, templates  # the schema's one template, stamped by the checkout that made it
            (template, stamp), = templates.items()
            listed = [path for path in paths if template in (path / ".pytest_cache" / "d" / "multidb" /
                                                             "templates.json").read_text()]
            assert [path for path in paths if str(path) in stamp] == listed and len(listed) == 1, (stamp, listed)
    finally:
        for name in _templates(servers, real_name):
            servers.pg(f'DROP DATABASE IF EXISTS "{name}"')


def test_a_template_another_checkout_made_is_used_and_never_recorded(pytester, servers):
    """A checkout rebuilding a schema whose template another checkout made: it keeps theirs, does not record it,
    and a later run of either clones it."""
    real_name = f"multidb_other{uuid.uuid4().hex[:8]}"
    first, second = (_checkout(pytester.path, name, real_name) for name in ("first", "second"))
    try:
        done, = _run_checkouts([first])
        assert done.returncode == 0, done.stdout
        made = _templates(servers, real_name)
        assert len(made) == 1, made
        for args in (("--multidb-rebuild",), ()):
            done, = _run_checkouts([second], *args)
            assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout
            assert _templates(servers, real_name) == made  # the first checkout's, untouched
            assert next(iter(made)) not in (second / ".pytest_cache" / "d" / "multidb" / "templates.json").read_text()
    finally:
        for name in _templates(servers, real_name):
            servers.pg(f'DROP DATABASE IF EXISTS "{name}"')
