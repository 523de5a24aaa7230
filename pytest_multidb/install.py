"""A database's whole schema: ``migrate`` for the apps with migrations, the schema builder for the others, then
the ``post_migrate`` handlers once every table exists.

Used by the plugin for every test database and by ``manage.py multidb_migrate`` for real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connections

from .schema import SchemaBuilder, migratable_models, unmigrated_models
from .unmanaged import built_as_managed, create_schemas, split, unmanaged_models


def install_schema(alias: str, migrations: bool, unmanaged: bool = False) -> None:
    """Migrate the apps that have migrations, build the rest with the schema builder, then run the
    post-migrate handlers (contenttypes, permissions), once every table exists.

    With migrations, the tables of apps without migrations that already exist are left as they are (as
    ``migrate --run-syncdb`` does), so running it again on a database is harmless.

    ``unmanaged``: also build the tables of the alias's unmanaged models (``unmanaged.py``): the ones that need
    no managed table before ``migrate`` (a managed model's foreign key to them migrates), the others after.
    """
    early, late = split(alias, unmanaged_models(alias)) if unmanaged else ([], [])
    create_schemas(alias, [*early, *late])
    if not migrations:
        managed = migratable_models(alias)
        with built_as_managed([*early, *late]):
            SchemaBuilder(alias, [*managed, *early, *late]).install()
        emit_post_migrate_signal(verbosity=0, interactive=False, db=alias)
        return
    if early:
        with built_as_managed(early):
            SchemaBuilder(alias, early).install()
    with post_migrate_deferred() as deferred:
        call_command("migrate", database=alias, run_syncdb=False, verbosity=0, interactive=False)
    existing = set(connections[alias].introspection.table_names())
    unmigrated = [model for model in unmigrated_models(alias) if model._meta.db_table not in existing]
    with built_as_managed(late):
        SchemaBuilder(alias, [*unmigrated, *late]).install()
    for args, kwargs in deferred:
        emit_post_migrate_signal(*args, **kwargs)


@contextmanager
def post_migrate_deferred() -> Iterator[list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    """Record, instead of sending, the ``post_migrate`` signal of a ``migrate`` command.

    ``migrate`` sends it at its end, but the apps without migrations (all of them with ``MIGRATION_MODULES``
    disabling migrations) are built by the schema builder afterwards: their handlers (contenttypes,
    permissions) would query tables that do not exist yet. Django has no option for this, so the command
    module's reference to ``emit_post_migrate_signal`` is swapped for the duration of the call.
    """
    from django.core.management.commands import migrate

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    original = migrate.emit_post_migrate_signal
    migrate.emit_post_migrate_signal = lambda *args, **kwargs: calls.append((args, kwargs))
    try:
        yield calls
    finally:
        migrate.emit_post_migrate_signal = original
