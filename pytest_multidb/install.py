"""A database's whole schema: ``migrate`` for the apps with migrations, the schema builder for the others, then
the ``post_migrate`` handlers once every table exists.

Used by the plugin for every test database and by ``manage.py multidb_migrate`` for real ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connections

from .alias_models import migratable_models, unmigrated_models
from .schema import MissingConstraintWarning, SchemaBuilder
from .unmanaged import built_as_managed, create_schemas, split, unmanaged_models


def install_schema(alias: str, migrations: bool, unmanaged: bool = False) -> None:
    """``migrate --run-syncdb`` as Django's test runner runs it, with the schema builder building the apps without
    migrations (in the command's syncdb phase), then the post-migrate handlers (contenttypes, permissions), once
    every table exists.

    With migrations, the tables of apps without migrations that already exist are left as they are (as
    ``migrate --run-syncdb`` does), so running it again on a database is harmless.

    ``unmanaged``: also build the tables of the alias's unmanaged models (``unmanaged.py``): the ones that need
    no managed table before ``migrate`` (a managed model's foreign key to them migrates), the others after.
    """
    early, late = split(alias, unmanaged_models(alias)) if unmanaged else ([], [])
    create_schemas(alias, [*early, *late])
    if not migrations:
        managed = migratable_models(alias, on_database=True)
        with built_as_managed([*early, *late]):
            SchemaBuilder(alias, [*managed, *early, *late]).install()
        emit_post_migrate_signal(verbosity=0, interactive=False, db=alias)
        return
    if early:
        with built_as_managed(early):
            SchemaBuilder(alias, early).install()
    unmigrated: list[Any] = []

    def sync_apps() -> None:
        # The tables of the apps without migrations that exist already are left as they are.
        existing = set(connections[alias].introspection.table_names())
        unmigrated.extend(m for m in unmigrated_models(alias) if m._meta.db_table not in existing)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingConstraintWarning)  # added after the migrations, below
            SchemaBuilder(alias, unmigrated).install()

    with post_migrate_deferred() as deferred, syncdb_phase(sync_apps):
        call_command("migrate", database=alias, run_syncdb=True, verbosity=0, interactive=False)
    SchemaBuilder(alias, unmigrated).add_missing_constraints()
    if late:
        with built_as_managed(late):
            SchemaBuilder(alias, late).install()
    for args, kwargs in deferred:
        emit_post_migrate_signal(*args, **kwargs)


@contextmanager
def syncdb_phase(sync_apps: Callable[[], None]) -> Iterator[None]:
    """Run ``sync_apps()`` where ``migrate --run-syncdb`` builds the apps without migrations: after the
    ``pre_migrate`` signal, before the first migration (whose foreign keys may point at those tables).

    Django's own phase creates every foreign-key constraint, also to a model on another connection, which has no
    table there; the schema builder leaves those out. Django has no hook for this, so the command's method is
    swapped for the duration of the call (migrations run in one thread: see ``post_migrate_deferred``).
    """
    from django.core.management.commands.migrate import Command

    original = Command.sync_apps
    Command.sync_apps = lambda command, connection, app_labels: sync_apps()  # type: ignore[method-assign]
    try:
        yield
    finally:
        Command.sync_apps = original  # type: ignore[method-assign]


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
