"""Tables for unmanaged (``managed = False``) models in test databases, on request.

Django's test databases never hold them: ``migrate`` skips unmanaged models. With ``TEST["UNMANAGED"] =
"create"`` (or ``--multidb-unmanaged=create`` for every alias) the schema builder makes the tables of the
unmanaged, non-proxy models routed to the alias (their auto-created many-to-many tables, indexes and
constraints included):

- *early*, before ``migrate``, every one that needs no managed table of the alias (so that a managed model's
  foreign key to it migrates);
- *late*, after ``migrate``, the ones with a relation to a managed model of the alias (its table must exist).

A ``db_table`` that names a PostgreSQL schema (``'"reporting"."sales"'``) gets the schema created first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.db import connections, router
from django.db import models as django_models

from .settings_checks import UNMANAGED_MODES

Model = type[django_models.Model]

CREATE, SKIP = UNMANAGED_MODES

#: ``"schema"."table"`` (Django's ``quote_name`` leaves a name quoted like this as it is).
SCHEMA_TABLE = re.compile(r'^"(?P<schema>[^"]+)"\."(?P<table>[^"]+)"$')


def creates(test: Mapping[str, Any], option: str | None) -> bool:
    """Whether an alias with ``test`` (its ``TEST`` dict) gets unmanaged tables: ``--multidb-unmanaged`` wins."""
    return (option or test.get("UNMANAGED") or SKIP) == CREATE


def unmanaged_models(alias: str) -> list[Model]:
    """Concrete, unmanaged, non-proxy models whose writes are routed to ``alias``."""
    return [
        model
        for model in apps.get_models()
        if not model._meta.managed and not model._meta.proxy and not model._meta.swapped
        and router.db_for_write(model) == alias
    ]


def _needs(model: Model) -> set[Model]:
    """The models whose tables the tables of ``model`` point at (its foreign keys and many-to-many tables)."""
    found = {f.related_model for f in model._meta.local_fields if f.is_relation and f.related_model}
    for m2m in model._meta.local_many_to_many:
        if m2m.remote_field.through._meta.auto_created:
            found.add(m2m.related_model)
    return found - {model}


def split(alias: str, models: Iterable[Model]) -> tuple[list[Model], list[Model]]:
    """``(early, late)``: the models to build before ``migrate`` and the ones that need a managed table of
    ``alias`` (directly or through another unmanaged model), built after it."""
    pending = list(models)
    late: set[Model] = set()
    changed = True
    while changed:
        changed = False
        for model in pending:
            if model in late:
                continue
            if any(router.db_for_write(target) == alias and (target._meta.managed or target in late)
                   for target in _needs(model)):
                late.add(model)
                changed = True
    return [m for m in pending if m not in late], [m for m in pending if m in late]


def tables(models: Iterable[Model]) -> list[str]:
    """The tables of ``models``: their own and their auto-created many-to-many tables."""
    found = []
    for model in models:
        found.append(model._meta.db_table)
        found += [m2m.m2m_db_table() for m2m in model._meta.local_many_to_many
                  if m2m.remote_field.through._meta.auto_created]
    return list(dict.fromkeys(found))


def schemas(models: Iterable[Model]) -> list[str]:
    """The PostgreSQL schemas that ``db_table`` values of ``models`` name (``'"reporting"."sales"'``)."""
    return list(dict.fromkeys(match["schema"] for table in tables(models) if (match := SCHEMA_TABLE.match(table))))


def create_schemas(alias: str, models: Iterable[Model]) -> None:
    """``CREATE SCHEMA IF NOT EXISTS`` for every schema the tables of ``models`` live in (PostgreSQL only)."""
    conn = connections[alias]
    if conn.vendor != "postgresql":
        return
    names = schemas(models)
    if names:
        with conn.cursor() as cursor:
            for name in names:
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {conn.ops.quote_name(name)}")


@contextmanager
def built_as_managed(models: Iterable[Model]) -> Iterator[None]:
    """Let the schema editor build ``models`` as it builds managed ones, for the duration of the block.

    Django's editor leaves out the indexes (``Meta.indexes``, ``db_index``, ``index_together``) of unmanaged
    models and of their many-to-many tables; it has no switch for that, so ``managed`` is flipped on the
    models' options while their tables are made (the session builds schemas one alias at a time).
    """
    options = []
    for model in models:
        options.append(model._meta)
        options += [m2m.remote_field.through._meta for m2m in model._meta.local_many_to_many
                    if m2m.remote_field.through._meta.auto_created]
    flipped = [opts for opts in dict.fromkeys(options) if not opts.managed]
    for opts in flipped:
        opts.managed = True
    try:
        yield
    finally:
        for opts in flipped:
            opts.managed = False
