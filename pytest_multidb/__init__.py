"""pytest-multidb: several databases for Django, and a pytest plugin that provisions and isolates them.

Public API::

    from pytest_multidb import connections, ConnectionInfo, use_db, atomic, SchemaBuilder, ConfigurationError
"""

from .conf import ConfigurationError
from .db import ConnectionInfo, connections
from .routing import use_db

__all__ = ["ConfigurationError", "ConnectionInfo", "connections", "use_db"]
