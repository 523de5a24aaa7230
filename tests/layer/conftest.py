"""The layer tests run in this process against real databases: sqlite files, PostgreSQL and MariaDB.

The pytest plugin is not used here (``-p no:multidb``): these tests check the layer the plugin stands on.
The databases are created once per session under unique names and dropped at the end.
"""

import os
import shutil
import tempfile
import uuid

import django
import pytest

os.environ["MULTIDB_LAYER_RUN"] = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.layer_settings"


def pytest_configure(config):
    os.environ["MULTIDB_LAYER_DIR"] = tempfile.mkdtemp(prefix="multidb-layer-")
    django.setup()


def pytest_unconfigure(config):
    shutil.rmtree(os.environ["MULTIDB_LAYER_DIR"], ignore_errors=True)


def _server_databases():
    from django.db import connections

    return [alias for alias in connections if connections[alias].vendor != "sqlite"]


@pytest.fixture(scope="session", autouse=True)
def layer_databases():
    """Create the server databases, migrate migrated apps and install the others with the schema builder."""
    from django.core.management import call_command
    from django.db import connections

    from pytest_multidb.alias_models import unmigrated_models
    from pytest_multidb.schema import SchemaBuilder

    servers = _server_databases()
    for alias in servers:
        conn = connections[alias]
        with conn._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {conn.ops.quote_name(conn.settings_dict['NAME'])}")
    try:
        for alias in connections:
            call_command("migrate", database=alias, run_syncdb=False, verbosity=0)
            SchemaBuilder(alias, unmigrated_models(alias)).install()
        yield
    finally:
        for alias in connections:
            connections[alias].close()
        for alias in servers:
            conn = connections[alias]
            with conn._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {conn.ops.quote_name(conn.settings_dict['NAME'])}")
            conn.close()


@pytest.fixture
def clean_tables():
    """Empty every sample table on every alias after the test (for tests that really commit)."""
    yield
    from django.core.management.color import no_style
    from django.db import connections

    from pytest_multidb.alias_models import routed_models

    for alias in connections:
        conn = connections[alias]
        if conn.in_atomic_block:
            continue
        tables = [m._meta.db_table for m in routed_models(alias)]
        tables = [t for t in tables if t in conn.introspection.table_names()]
        statements = conn.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
        with conn.constraint_checks_disabled():
            conn.ops.execute_sql_flush(statements)


@pytest.fixture(scope="module", params=["a", "pg", "maria"], ids=["sqlite", "postgresql", "mariadb"])
def scratch(request, tmp_path_factory):
    """A new, empty database beside a layer alias (same server, another NAME), as alias ``<alias>_scratch``.

    Helpers for tests that use it are in ``scratch.py``; ``empty_scratch`` empties it after each test.
    """
    from django.db import connections as django_connections

    from pytest_multidb import connections

    server = django_connections[request.param]
    alias = f"{request.param}_scratch"
    if server.vendor == "sqlite":
        name = str(tmp_path_factory.mktemp("scratch") / "scratch.db")
    else:
        name = f"multidb_scratch_{os.environ['MULTIDB_LAYER_RUN']}"
        with server._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {server.ops.quote_name(name)}")
    django_connections.settings[alias] = {**django_connections.settings[request.param], "NAME": name}
    try:
        yield connections[alias]
    finally:
        django_connections[alias].close()
        del django_connections[alias]
        del django_connections.settings[alias]
        if server.vendor != "sqlite":
            with server._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE {server.ops.quote_name(name)}")


@pytest.fixture
def empty_scratch(scratch):
    """Whatever a test installed on the scratch database is dropped after it, even when the test failed."""
    yield
    connection = scratch.connection
    with connection.constraint_checks_disabled(), connection.schema_editor() as editor:
        for table in connection.introspection.table_names():
            editor.execute(editor.sql_delete_table % {"table": editor.quote_name(table)})
