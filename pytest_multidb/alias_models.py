"""Which models live on an alias, and in which order their tables are made: what ``migrate`` and the schema
builder choose from.

A model's table belongs on an alias when its writes are routed there or the routers let the alias hold it
(``router.allow_migrate_model``), as in Django's ``migrate --run-syncdb``; tables are made with every
foreign-key target first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.db import models as django_models
from django.db import router
from django.db.migrations.loader import MigrationLoader

Model = type[django_models.Model]


def routed_models(alias: str) -> list[Model]:
    """Concrete, managed models whose writes are routed to ``alias`` (swaps included)."""
    return [
        model
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and router.db_for_write(model) == alias
    ]


def holds(alias: str, model: Model) -> bool:
    """Whether ``model``'s table belongs on ``alias``: its writes go there, or the routers let ``alias`` hold it
    (as ``migrate`` builds it there, a foreign key to it can have its constraint)."""
    return router.db_for_write(model) == alias or router.allow_migrate_model(alias, model)


def migratable_models(alias: str, on_database: bool = False) -> list[Model]:
    """Concrete, managed models the routers let ``alias`` hold (``router.allow_migrate_model``): what Django's
    ``migrate --run-syncdb`` builds there. Without routers, every model on every alias, as in Django.

    ``on_database``: the alias's test database is open, and a model is left out where ``migrate`` leaves it out
    (``Options.can_migrate``: its ``required_db_vendor``, its ``required_db_features`` read from the connection).
    Without it (a schema's cache key, before any database exists) no connection is asked."""
    return [
        model
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and router.allow_migrate_model(alias, model)
        and (not on_database or model._meta.can_migrate(alias))
    ]


def unmigrated_models(alias: str) -> list[Model]:
    """The models ``migrate --run-syncdb`` builds on ``alias`` (its test database open): those of apps without
    migrations."""
    migrated = MigrationLoader(None, ignore_no_migrations=True).migrated_apps
    return [model for model in migratable_models(alias, on_database=True) if model._meta.app_label not in migrated]


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


def relation_fields(models: Iterable[Model]) -> Iterator[Any]:
    """Foreign keys of ``models`` and of their auto-created many-to-many tables: the relations with a column of
    their own (a ``ForeignObject`` over other fields has none, and no constraint)."""
    for model in models:
        yield from (f for f in model._meta.local_fields if f.is_relation and f.concrete)
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created:
                yield from (f for f in through._meta.local_fields if f.is_relation and f.concrete)
