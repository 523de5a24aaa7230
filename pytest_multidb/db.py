"""``ConnectionInfo`` and the ``connections`` mapping of the multi-DB layer: the facts of one connection.

``ConnectionInfo.schema`` (the alias's ``SchemaBuilder``) is given by ``schema.py``, which builds on these facts;
this module imports nothing of the package.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from django.db import connections as django_connections
from django.utils.connection import ConnectionDoesNotExist

from .messages import settings as texts

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


def check_alias(alias: str) -> str:
    """Return ``alias`` if it is configured, else raise ``ConnectionDoesNotExist`` naming the known ones."""
    if alias not in django_connections.settings:
        known = ", ".join(sorted(django_connections.settings))
        raise ConnectionDoesNotExist(texts.UNKNOWN_ALIAS.format(alias=alias, known=known))
    return alias


class ConnectionInfo(str):
    """A database alias that also carries its connection.

    It *is* the alias (a ``str``), so anything in Django that takes ``using=`` accepts it. ``.schema`` is the
    ``SchemaBuilder`` for the models that live on the alias.
    """

    __slots__ = ()

    @property
    def alias(self) -> str:
        return str(self)

    @property
    def connection(self) -> BaseDatabaseWrapper:
        """This thread's Django connection for the alias."""
        return django_connections[str(self)]

    @property
    def settings(self) -> dict[str, Any]:
        """The alias's resolved ``DATABASES`` entry."""
        return django_connections.settings[self]

    @property
    def vendor(self) -> str:
        """``sqlite``, ``postgresql``, ``mysql``, ..."""
        return self.connection.vendor

    def __repr__(self) -> str:
        return f"ConnectionInfo({str(self)!r})"


class Connections(Mapping[str, ConnectionInfo]):
    """Every configured alias, as ``ConnectionInfo`` objects: ``connections["a"].connection``."""

    def __getitem__(self, alias: str) -> ConnectionInfo:
        return ConnectionInfo(check_alias(alias))

    def __iter__(self) -> Iterator[str]:
        return iter(django_connections.settings)

    def __len__(self) -> int:
        return len(django_connections.settings)

    def __contains__(self, alias: object) -> bool:
        return alias in django_connections.settings

    def __repr__(self) -> str:
        return f"<connections {list(self)}>"


connections = Connections()
