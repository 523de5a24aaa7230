"""``SchemaBuilder``: create, drop and reset the sequences of the models that live on one connection.

Everything goes through Django's ``schema_editor`` (and ``collect_sql`` for previews) and ``connection.ops``;
this module only adds what Django lacks: the models of one alias in dependency order (``alias_models``), and
leaving out foreign-key constraints that would point at another connection.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.management.color import no_style
from django.db import connections as django_connections
from django.db import models as django_models
from django.db import router

from .alias_models import Model, holds, install_order, relation_fields, routed_models
from .db import ConnectionInfo, check_alias
from .messages import layer as texts

#: Statements around a drop preview, per vendor, that let tables in a foreign-key cycle be dropped. They are
#: what ``connection.constraint_checks_disabled()`` runs, written out so the preview can be replayed by hand.
DROP_PREAMBLE: dict[str, tuple[list[str], list[str]]] = {
    "mysql": (["SET FOREIGN_KEY_CHECKS = 0;"], ["SET FOREIGN_KEY_CHECKS = 1;"]),
    "sqlite": (["PRAGMA foreign_keys = OFF;"], ["PRAGMA foreign_keys = ON;"]),
}


class MissingConstraintWarning(UserWarning):
    """``install()`` left out a foreign-key constraint whose target table is not on the connection yet."""


#: Why a constraint was left out: its target's table is not there yet (it can be added later) / its target lives
#: on another connection (it never can).
DEFERRED, OTHER_CONNECTION = "deferred", "other connection"


@dataclass(frozen=True)
class MissingConstraint:
    """A foreign-key constraint the schema builder left out; ``str()`` says why and what to do."""

    alias: str
    #: The field holding the column: of the model, or of the auto-created many-to-many table it declares.
    field: Any
    reason: str

    @property
    def table(self) -> str:
        """The table holding the column."""
        return self.field.model._meta.db_table

    @property
    def target(self) -> Model:
        """The model the foreign key points at."""
        return self.field.related_model

    @property
    def owner(self) -> Model:
        """The model whose manager installs the table (the declaring model for a many-to-many table)."""
        opts = self.field.model._meta
        return opts.auto_created or self.field.model

    def __str__(self) -> str:
        return self.message()

    def message(self) -> str:
        """Why the constraint is missing and what to do about it."""
        column = f"{self.table}.{self.field.column} ({self.owner._meta.label}.{self._field_name})"
        target = self.target._meta
        if self.reason == DEFERRED:
            return texts.CONSTRAINT_DEFERRED.format(
                alias=self.alias, column=column, target=target.label, table=target.db_table,
                target_name=target.object_name, owner_name=self.owner._meta.object_name)
        return texts.CONSTRAINT_ACROSS_CONNECTIONS.format(alias=self.alias, column=column, target=target.label,
                                                          target_alias=router.db_for_write(self.target))

    @property
    def _field_name(self) -> str:
        opts = self.field.model._meta
        if opts.auto_created:  # the many-to-many field of the declaring model, then the through column
            m2m = next(f for f in opts.auto_created._meta.local_many_to_many
                       if f.remote_field.through is self.field.model)
            return f"{m2m.name}.{self.field.name}"
        return self.field.name


def omitted_constraints(alias: str, models: list[Model], existing: set[str],
                        connection: Any) -> list[MissingConstraint]:
    """The foreign-key constraints of ``models`` that cannot be created on ``alias`` now.

    - to a model on another connection: never possible (the target table is elsewhere);
    - to a model of the alias that is not among ``models`` and has no table in ``existing``: deferred, unless
      the backend declares foreign keys inline (sqlite accepts a reference to a table that comes later).
    """
    members = set(models)
    inline = bool(connection.SchemaEditorClass.sql_create_inline_fk)
    found = []
    for field in relation_fields(models):
        target = field.related_model
        if not field.db_constraint or target in members:
            continue
        if not holds(alias, target):
            found.append(MissingConstraint(alias, field, OTHER_CONNECTION))
        elif target._meta.db_table not in existing and not inline and connection.features.supports_foreign_keys:
            found.append(MissingConstraint(alias, field, DEFERRED))
    return found


@contextmanager
def _constraints_off(omitted: Iterable[MissingConstraint]) -> Iterator[None]:
    """Turn off ``db_constraint`` on the fields of ``omitted`` for the duration of a schema-editor run.

    Django has no switch for that per run, so the flag is flipped on the field and put back afterwards.
    """
    fields = [m.field for m in omitted]
    for field in fields:
        field.db_constraint = False
    try:
        yield
    finally:
        for field in fields:
            field.db_constraint = True


def _has_foreign_key(connection: Any, field: Any, relations: dict[str, dict[str, Any]]) -> bool:
    """Whether ``field``'s column has a foreign key (Django's ``get_relations``, read once per table: on sqlite a
    ``PRAGMA``, where ``get_constraints`` parses the table's SQL, 10 ms a table)."""
    table = field.model._meta.db_table
    if table not in relations:
        with connection.cursor() as cursor:
            relations[table] = connection.introspection.get_relations(cursor, table)
    return field.column in relations[table]


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
        """``CREATE TABLE``/index/constraint statements; constraints that need later tables come last.

        They are the statements ``install()`` would run now: a constraint it would leave out is left out.
        """
        with self._collecting() as editor:
            self._create(editor, set(editor.connection.introspection.table_names()))
        return list(editor.collected_sql)

    def install(self) -> list[MissingConstraint]:
        """Create the tables (and their constraints) on the connection.

        A foreign key whose target has no table on the connection yet gets its constraint later: a
        ``MissingConstraintWarning`` says how, and installing the target adds it (``install()`` also adds the
        missing constraints of the connection's other tables that point at the models it creates). Returns the
        constraints left out, those to models on other connections included (a database cannot enforce them).
        """
        connection = self.connection
        with connection.schema_editor() as editor:
            omitted = self._create(editor, set(connection.introspection.table_names()))
        self._add_constraints(self._incoming())
        for missing in omitted:
            if missing.reason == DEFERRED:
                warnings.warn(str(missing), MissingConstraintWarning, stacklevel=2)
        return omitted

    def _create(self, editor: Any, existing: set[str]) -> list[MissingConstraint]:
        models = self.models
        omitted = omitted_constraints(self.alias, models, existing, editor.connection)
        with _constraints_off(omitted):
            for model in models:
                editor.create_model(model)
            # Foreign keys are built into the deferred SQL now, while the flags are still off; the editor
            # runs it (or collects it) on exit, after every table exists.
        return omitted

    # -- constraints left out ----------------------------------------------------------------------------
    def add_missing_constraints(self) -> list[str]:
        """Add the foreign-key constraints that ``install()`` left out and that can exist now.

        Covers the builder's models' own foreign keys and those of the connection's other models pointing at
        them, when both tables are there. Returns the columns that got one, as ``"table.column"``.
        """
        members = set(self.models)
        return self._add_constraints([*relation_fields(members), *self._incoming()])

    def _incoming(self) -> list[Any]:
        """Foreign keys of the alias's other models that point at the builder's models."""
        members = set(self.models)
        others = [model for model in routed_models(self.alias) if model not in members]
        return [field for field in relation_fields(others) if field.related_model in members]

    def _add_constraints(self, fields: Iterable[Any]) -> list[str]:
        connection = self.connection
        candidates = [field for field in dict.fromkeys(fields)
                      if field.db_constraint and holds(self.alias, field.related_model)]
        if not candidates:
            return []
        existing = set(connection.introspection.table_names())
        candidates = [field for field in candidates
                      if {field.model._meta.db_table, field.related_model._meta.db_table} <= existing]
        relations: dict[str, dict[str, Any]] = {}
        missing = [field for field in candidates if not _has_foreign_key(connection, field, relations)]
        if missing:
            with connection.schema_editor() as editor:
                for field in missing:
                    without = copy.copy(field)
                    without.db_constraint = False
                    editor.alter_field(field.model, without, field)
        return [f"{field.model._meta.db_table}.{field.column}" for field in missing]

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


#: ``connections["a"].schema``: the builder of the alias's models. Given here, where ``SchemaBuilder`` is, so that
#: ``db`` (the connection facts the builder builds on) needs nothing of this module.
ConnectionInfo.schema = property(SchemaBuilder, doc="The schema builder for the models that live on this alias.")
