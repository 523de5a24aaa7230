"""Migrate every database in one go: what ``manage.py multidb_migrate`` runs.

Each alias gets what the plugin gives a test database (``install.install_schema``): ``migrate`` for the apps with
migrations, the schema builder for the others, then the ``post_migrate`` handlers. Aliases go in this order:

- ``TEST["DEPENDENCIES"]`` as Django's test runner reads it: an alias after the aliases it names (a cycle is an
  error);
- then cross-connection references: an alias whose models point at models of another alias comes after it,
  unless references point both ways (settings order decides; such references carry no database constraint).

The first alias that fails stops the run: ``MigrateError`` names it, what was done before and what was not.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connections, router

from .alias_models import relation_fields, routed_models, unmigrated_models
from .conf import database_specs
from .db import check_alias
from .install import install_schema
from .messages import layer as texts
from .same_database import dependency_order
from .unmanaged import tables


class MigrateError(Exception):
    """An alias could not be migrated (or read, for a plan); the message is one line naming it and the fix."""

    def __init__(self, message: str, alias: str) -> None:
        super().__init__(message)
        self.alias = alias


def references(aliases: Iterable[str]) -> dict[str, set[str]]:
    """``{alias: the other aliases its models' relations point at}``."""
    found = {}
    for alias in aliases:
        targets = {router.db_for_write(field.related_model) for field in relation_fields(routed_models(alias))}
        found[alias] = targets - {alias}
    return found


def migration_order(aliases: Iterable[str] | None = None) -> list[str]:
    """``aliases`` (default: every configured one) in the order ``multidb_migrate`` migrates them."""
    specs = database_specs()
    wanted = [check_alias(alias) for alias in (specs if aliases is None else aliases)]
    hard = dependency_order(wanted, specs)
    soft = references(hard)
    chosen: list[str] = []
    pending = list(hard)
    while pending:
        done = set(chosen)
        ready = [a for a in pending if set(specs[a].test.get("DEPENDENCIES") or ()) & set(hard) <= done | {a}]
        alias = next((a for a in ready if soft[a] & set(hard) <= done), ready[0])
        pending.remove(alias)
        chosen.append(alias)
    return chosen


def where(alias: str) -> str:
    """The database behind ``alias``, for humans: ``sqlite /path/db.sqlite3``, ``postgresql app@host:5432``."""
    connection = connections[alias]
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite {settings['NAME']}"
    host = settings.get("HOST") or "localhost"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"{connection.vendor} {settings['NAME']}@{host}{port}"


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def pending_migrations(alias: str) -> list[str]:
    """The migrations ``migrate`` would apply on ``alias``, as ``app_label.name``."""
    # Imported here: the executor pulls in Django's migration machinery (~80 ms), which a run that restores its
    # schemas from the cache never needs; the plugin imports this module at start-up (the public API).
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def missing_tables(alias: str) -> list[str]:
    """The tables the schema builder would create on ``alias``: those of apps without migrations not there."""
    existing = set(connections[alias].introspection.table_names())
    unmigrated = [model for model in unmigrated_models(alias) if model._meta.db_table not in existing]
    return [table for table in tables(unmigrated) if table not in existing]


@dataclass(frozen=True)
class Plan:
    """What ``multidb_migrate`` would do on one alias."""

    alias: str
    migrations: tuple[str, ...]
    tables: tuple[str, ...]

    def __str__(self) -> str:
        if not self.migrations and not self.tables:
            return f"{self.alias}: up to date ({where(self.alias)})"
        parts = []
        if self.migrations:
            parts.append(f"apply {_count(len(self.migrations), 'migration')} ({', '.join(self.migrations)})")
        if self.tables:
            parts.append(f"create {_count(len(self.tables), 'table')} with the schema builder "
                         f"({', '.join(self.tables)})")
        return f"{self.alias}: would {' and '.join(parts)} ({where(self.alias)})"


def plan(alias: str) -> Plan:
    """What migrating ``alias`` would do now (reads the database, changes nothing)."""
    return Plan(alias, tuple(pending_migrations(alias)), tuple(missing_tables(alias)))


def migrate(alias: str, write: Callable[[str], None]) -> None:
    """Migrate ``alias`` and build its apps without migrations; ``write`` gets one line, and one per warning."""
    connection = connections[alias]
    applied = len(pending_migrations(alias))
    before = set(connection.introspection.table_names())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        install_schema(alias, migrations=True)
    created = len(set(connection.introspection.table_names()) - before)
    write(f"{alias}: {_count(applied, 'migration')} applied, {_count(created, 'table')} created ({where(alias)})")
    for warning in caught:
        write(f"{alias}: warning: {warning.message}")


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()).rstrip(".")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def migrate_all(aliases: Iterable[str] | None, write: Callable[[str], None], plan_only: bool = False) -> None:
    """Migrate ``aliases`` (default: all) in ``migration_order``; with ``plan_only`` print each one's ``Plan``.

    Raises ``MigrateError`` for the first alias that fails; the aliases after it are not touched.
    """
    order = migration_order(aliases)
    for index, alias in enumerate(order):
        try:
            if plan_only:
                write(str(plan(alias)))
            else:
                migrate(alias, write)
        except Exception as error:
            done, left = ", ".join(order[:index]) or "none", ", ".join(order[index + 1:]) or "none"
            if plan_only:
                raise MigrateError(
                    texts.PLAN_FAILED.format(alias=alias, where=where(alias), error=_one_line(error)), alias,
                ) from error
            raise MigrateError(
                texts.MIGRATE_FAILED.format(alias=alias, where=where(alias), error=_one_line(error), done=done,
                                            left=left), alias,
            ) from error
