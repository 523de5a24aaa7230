"""``SchemaBuilder``: create, drop and reset the sequences of the models that live on one connection.

Everything goes through Django's ``schema_editor`` (and ``collect_sql`` for previews) and ``connection.ops``;
this module only adds what Django lacks: choosing the models of one alias, putting them in dependency order,
and leaving out foreign-key constraints that would point at another connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.db import connections as django_connections
from django.db import models as django_models
from django.db import router
from django.db.migrations.loader import MigrationLoader

from .db import ConnectionInfo, check_alias

Model = type[django_models.Model]

#: Statements around a drop preview, per vendor, that let tables in a foreign-key cycle be dropped. They are
#: what ``connection.constraint_checks_disabled()`` runs, written out so the preview can be replayed by hand.
DROP_PREAMBLE: dict[str, tuple[list[str], list[str]]] = {
    "mysql": (["SET FOREIGN_KEY_CHECKS = 0;"], ["SET FOREIGN_KEY_CHECKS = 1;"]),
    "sqlite": (["PRAGMA foreign_keys = OFF;"], ["PRAGMA foreign_keys = ON;"]),
}


def routed_models(alias: str) -> list[Model]:
    """Concrete, managed models whose writes are routed to ``alias`` (swaps included)."""
    return [
        model
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and router.db_for_write(model) == alias
    ]


def unmigrated_models(alias: str) -> list[Model]:
    """The models routed to ``alias`` whose app has no migrations (the ones ``migrate`` would not create)."""
    migrated = MigrationLoader(None, ignore_no_migrations=True).migrated_apps
    return [model for model in routed_models(alias) if model._meta.app_label not in migrated]


def install_order(models: Iterable[Model]) -> list[Model]:
    """``models`` with every foreign-key target before the models pointing at it.

    Cycles are broken in the given order; their constraints are added after all tables exist.
    """
    pending = list(dict.fromkeys(models))
    members = set(pending)

    def unmet(model: Model, placed: set[Model]) -> bool:
        return any(
            field.related_model in members and field.related_model is not model
            and field.related_model not in placed
            for field in model._meta.local_fields
            if field.is_relation
        )

    ordered: list[Model] = []
    placed: set[Model] = set()
    while pending:
        ready = next((m for m in pending if not unmet(m, placed)), pending[0])
        pending.remove(ready)
        ordered.append(ready)
        placed.add(ready)
    return ordered


def _relation_fields(models: Iterable[Model]) -> Iterator[Any]:
    """Foreign keys of ``models`` and of their auto-created many-to-many tables."""
    for model in models:
        yield from (f for f in model._meta.local_fields if f.is_relation)
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created:
                yield from (f for f in through._meta.local_fields if f.is_relation)


@contextmanager
def _without_foreign_constraints(alias: str, models: list[Model]) -> Iterator[None]:
    """Turn off ``db_constraint`` for foreign keys to models that live on another connection.

    Such a constraint could never be created (the target table is elsewhere). Django has no switch for
    that per schema-editor run, so the flag is flipped on the field for the duration of the run.
    """
    members = set(models)
    foreign = [
        field
        for field in _relation_fields(models)
        if field.db_constraint
        and field.related_model not in members
        and router.db_for_write(field.related_model) != alias
    ]
    for field in foreign:
        field.db_constraint = False
    try:
        yield
    finally:
        for field in foreign:
            field.db_constraint = True


class SchemaBuilder:
    """Creates and drops the tables of one connection's models, in dependency order.

    ``SchemaBuilder("a")`` covers every model routed to ``a``; pass ``models=`` to choose them yourself, and
    ``connection=`` to work through another Django connection to the same database (e.g. one of your own,
    outside a running transaction). The ``*_sql()`` methods return lists of SQL statements without running them.
    """

    def __init__(self, alias: str, models: Iterable[Model] | None = None, connection: Any = None) -> None:
        self.alias = ConnectionInfo(check_alias(alias))
        self._models = None if models is None else list(models)
        self._connection = connection

    def __repr__(self) -> str:
        return f"SchemaBuilder({str(self.alias)!r})"

    @property
    def models(self) -> list[Model]:
        """The models this builder installs, in install order."""
        return install_order(routed_models(self.alias) if self._models is None else self._models)

    @property
    def connection(self) -> Any:
        """The Django connection the builder works through (the alias's own unless one was given)."""
        return self._connection or self.alias.connection

    @contextmanager
    def _collecting(self) -> Iterator[Any]:
        """A schema editor that only collects SQL.

        Inside a transaction (a test's, say) it works through a connection of its own, closed afterwards:
        Django's sqlite schema editor refuses to open while a transaction is running.
        """
        own = django_connections.create_connection(self.alias) if self.connection.in_atomic_block else None
        try:
            with (own or self.connection).schema_editor(collect_sql=True, atomic=False) as editor:
                yield editor
        finally:
            if own is not None:
                own.close()

    # -- create ------------------------------------------------------------------------------------------
    def create_sql(self) -> list[str]:
        """``CREATE TABLE``/index/constraint statements; constraints that need later tables come last."""
        with self._collecting() as editor:
            self._create(editor)
        return list(editor.collected_sql)

    def install(self) -> None:
        """Create the tables (and their constraints) on the connection."""
        with self.connection.schema_editor() as editor:
            self._create(editor)

    def _create(self, editor: Any) -> None:
        models = self.models
        with _without_foreign_constraints(self.alias, models):
            for model in models:
                editor.create_model(model)
            # Foreign keys are built into the deferred SQL now, while the flags are still off; the editor
            # runs it (or collects it) on exit, after every table exists.

    # -- drop --------------------------------------------------------------------------------------------
    def drop_sql(self) -> list[str]:
        """``DROP TABLE`` statements, dependants first; safe for foreign-key cycles."""
        before, after = DROP_PREAMBLE.get(self.connection.vendor, ([], []))
        with self._collecting() as editor:
            self._drop(editor)
        return [*before, *editor.collected_sql, *after]

    def drop(self) -> None:
        """Drop the tables from the connection."""
        with self.connection.constraint_checks_disabled(), self.connection.schema_editor() as editor:
            self._drop(editor)

    def _drop(self, editor: Any) -> None:
        for model in reversed(self.models):
            editor.delete_model(model)

    # -- sequences ---------------------------------------------------------------------------------------
    def sequences(self) -> list[dict[str, str | None]]:
        """The auto-increment sequences of the models, in the shape ``connection.ops`` expects.

        Django's ``introspection.sequence_list()`` builds the same list for *every* model; this one is
        limited to the builder's models.
        """
        found: list[dict[str, str | None]] = []
        for model in self.models:
            pk = model._meta.pk
            if isinstance(pk, django_models.AutoField):  # also matches Big/SmallAutoField
                found.append({"table": model._meta.db_table, "column": pk.column})
            for m2m in model._meta.local_many_to_many:
                if m2m.remote_field.through._meta.auto_created:
                    found.append({"table": m2m.m2m_db_table(), "column": None})
        return found

    def reset_sequences_sql(self) -> list[str]:
        """Statements that make the next automatic primary key of every model 1 again."""
        return self.connection.ops.sequence_reset_by_name_sql(no_style(), self.sequences())

    def reset_sequences(self) -> None:
        """Reset the sequences on the connection (empty the tables first, or keys will collide)."""
        with self.connection.cursor() as cursor:
            for statement in self.reset_sequences_sql():
                cursor.execute(statement)

    def existing_tables(self) -> set[str]:
        """Which of the builder's tables already exist on the connection."""
        wanted = {model._meta.db_table for model in self.models}
        return wanted & set(self.connection.introspection.table_names())
