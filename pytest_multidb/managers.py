"""``Manager.db`` on every manager: read it for a ``ConnectionInfo``, assign it to swap the model."""

from __future__ import annotations

from django.db import router
from django.db.models.manager import BaseManager

from . import routing
from .db import ConnectionInfo


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


def install_manager_db() -> None:
    """Replace Django's read-only ``BaseManager.db`` with the readable and assignable one."""
    BaseManager.db = DB_PROPERTY
