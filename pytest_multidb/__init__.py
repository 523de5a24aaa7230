"""pytest-multidb: several databases for Django, and a pytest plugin that provisions and isolates them.

Public API::

    from pytest_multidb import connections, ConnectionInfo, use_db, atomic, SchemaBuilder, ConfigurationError
    from pytest_multidb import PartialCommitError, InDoubtTransactionError   # raised by atomic()
    from pytest_multidb import DatabaseAccessError                           # raised by the plugin's guard
    from pytest_multidb import MissingConstraint, MissingConstraintWarning   # what install() left out
    from pytest_multidb import MigrateError                                  # raised by migrate_all()
    from pytest_multidb.factories import ModelFactory                       # needs factory_boy

- ``connections["a"]``: a ``ConnectionInfo`` (the alias as a ``str``, with ``.connection``, ``.settings``,
  ``.vendor``, ``.schema``); ``Model.objects.db`` reads one and takes an alias to swap the model.
- ``use_db(Model, alias)``: a swap for this thread / asyncio task, inside a ``with`` block.
- ``atomic(connections=[...], two_phase=False)``: commit all or roll back all, across connections.
- ``SchemaBuilder(alias)``: create, drop and reset sequences of the models that live on an alias;
  ``Model.objects.schema`` is one for that model alone, on the connection its manager uses now.
- ``migrate_all()``: what ``manage.py multidb_migrate`` runs (every alias, in dependency order).
- ``__version__``: the installed version (``pyproject.toml``'s).
"""

from importlib import metadata as _metadata

from .conf import ConfigurationError
from .db import ConnectionInfo, connections
from .guard import DatabaseAccessError
from .migrate_all import MigrateError, migrate_all
from .routing import use_db
from .schema import MissingConstraint, MissingConstraintWarning, SchemaBuilder
from .transaction import InDoubtTransactionError, PartialCommitError, atomic

try:
    #: The version of the package: ``pyproject.toml``'s, from the installed package's metadata.
    __version__ = _metadata.version("pytest-multidb")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ConfigurationError",
    "ConnectionInfo",
    "DatabaseAccessError",
    "InDoubtTransactionError",
    "MigrateError",
    "MissingConstraint",
    "MissingConstraintWarning",
    "PartialCommitError",
    "SchemaBuilder",
    "atomic",
    "connections",
    "migrate_all",
    "use_db",
]
