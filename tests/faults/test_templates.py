"""Schema-cache templates do not pile up on the server: a template whose cache (on this host) is gone is dropped by
the next store, by its own stamp, never by its name; a template whose cache lives on, or that another host's
cache made, is left alone."""

from __future__ import annotations

import json
import shutil
import socket
import uuid

import pytest

from pytest_multidb.footprint import cache_stamp
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

