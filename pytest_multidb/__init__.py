"""pytest-multidb: several databases for Django, and a pytest plugin that provisions and isolates them.

Public API::

    from pytest_multidb import connections, ConnectionInfo, use_db, atomic, SchemaBuilder, ConfigurationError
    from pytest_multidb import PartialCommitError, InDoubtTransactionError   # raised by atomic()
"""

from .conf import ConfigurationError
from .db import ConnectionInfo, connections
from .routing import use_db
from .transaction import InDoubtTransactionError, PartialCommitError, atomic

__all__ = [
    "ConfigurationError",
    "ConnectionInfo",
    "InDoubtTransactionError",
    "PartialCommitError",
    "atomic",
    "connections",
    "use_db",
]
