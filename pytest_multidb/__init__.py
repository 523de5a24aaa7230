"""pytest-multidb: several databases for Django, and a pytest plugin that provisions and isolates them.

Public API::

    from pytest_multidb import connections, ConnectionInfo, use_db, atomic, SchemaBuilder, ConfigurationError
    from pytest_multidb import PartialCommitError, InDoubtTransactionError   # raised by atomic()
    from pytest_multidb import DatabaseAccessError                           # raised by the plugin's guard
    from pytest_multidb.factories import ModelFactory                       # needs factory_boy

- ``connections["a"]``: a ``ConnectionInfo`` (the alias as a ``str``, with ``.connection``, ``.settings``,
  ``.vendor``, ``.schema``); ``Model.objects.db`` reads one and takes an alias to swap the model.
- ``use_db(Model, alias)``: a swap for this thread / asyncio task, inside a ``with`` block.
- ``atomic(connections=[...], two_phase=False)``: commit all or roll back all, across connections.
- ``SchemaBuilder(alias)``: create, drop and reset sequences of the models that live on an alias.
"""

from .conf import ConfigurationError
from .db import ConnectionInfo, connections
from .guard import DatabaseAccessError
from .routing import use_db
from .schema import SchemaBuilder
from .transaction import InDoubtTransactionError, PartialCommitError, atomic

__all__ = [
    "ConfigurationError",
    "ConnectionInfo",
    "DatabaseAccessError",
    "InDoubtTransactionError",
    "PartialCommitError",
    "SchemaBuilder",
    "atomic",
    "connections",
    "use_db",
]
