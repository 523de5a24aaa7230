"""``Manager.db`` on every manager: read it for a ``ConnectionInfo``, assign it to swap the model.
``Manager.schema``: a ``SchemaBuilder`` for the manager's model on that connection (per-model installation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import router
from django.db.models.manager import BaseManager

from . import routing
from .db import ConnectionInfo

if TYPE_CHECKING:
    from .schema import SchemaBuilder


def _get_db(manager: BaseManager) -> ConnectionInfo:
    return ConnectionInfo(manager._db or router.db_for_read(manager.model, **manager._hints))


def _set_db(manager: BaseManager, alias: str | None) -> None:
    routing.swap(manager.model, alias)


def _del_db(manager: BaseManager) -> None:
    routing.swap(manager.model, None)


DB_PROPERTY = property(
    _get_db,
    _set_db,
    _del_db,
    doc="The connection this manager's queries go to. Assign an alias or ConnectionInfo to send every "
    "query of the model there; assign None (or del) to undo.",
)


def _get_schema(manager: BaseManager) -> SchemaBuilder:
    from .schema import SchemaBuilder

    return SchemaBuilder(_get_db(manager), models=[manager.model._meta.concrete_model])


SCHEMA_PROPERTY = property(
    _get_schema,
    doc="A SchemaBuilder for this model alone (its table and auto-created many-to-many tables) on the "
    "connection the manager uses now, swaps included: .create_sql(), .install(), .drop_sql(), .drop(), "
    ".reset_sequences(). Read it again after a swap: it is built for the connection of the moment.",
)


def install_manager_db() -> None:
    """Replace Django's read-only ``BaseManager.db`` with the readable and assignable one, and give every
    manager ``.schema``."""
    BaseManager.db = DB_PROPERTY
    BaseManager.schema = SCHEMA_PROPERTY
