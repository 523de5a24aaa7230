"""The plugin's user-facing fixtures: ``uses_db``, ``swap_db``, ``use_db``, ``db_queries``, ``multidb``,
``multidb_atomic``.

A thin face over the running test's databases (``isolation.TestDatabases``); the plugin's own fixtures, and
how aliases are opened for a test, are in ``plugin_fixtures.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connections

from . import routing
from .isolation import TestDatabases
from .messages import run as texts
from .plugin_fixtures import current_databases, current_run, open_aliases
from .schema import SchemaBuilder


@pytest.fixture
def uses_db(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Declare, from a fixture, the database aliases the test may use.

    ``uses_db("a", "b", transaction=False)`` opens the aliases for every test that uses the fixture (even
    without the ``uses_db`` marker): rolled back after the test, or with ``transaction=True`` (or a list of
    aliases) committed for real and emptied afterwards.
    """

    def declare(*aliases: str, transaction: bool | list[str] = False) -> None:
        open_aliases(request, aliases or ("default",), transaction)

    return declare


@pytest.fixture
def swap_db(request: pytest.FixtureRequest) -> Callable[[Any, str], routing.ConnectionInfo]:
    """``swap_db(Model, "b")``: send every query of ``Model`` to alias ``b`` for the rest of the test.

    The alias is opened for the test. If the model's table does not exist on ``b`` it is created for this
    test only. The swap is undone at teardown.
    """
    state = current_databases(request)

    def swap(model: Any, alias: str) -> routing.ConnectionInfo:
        open_aliases(request, (alias,))
        previous = routing.global_swap(model)
        _install_for_test(model, alias, state)
        routing.swap(model, alias)
        state.defer(texts.UNDO_SWAP.format(model=model._meta.label, alias=alias), lambda: routing.swap(model, previous))
        return routing.ConnectionInfo(alias)

    return swap


def _install_for_test(model: Any, alias: str, state: TestDatabases) -> None:
    """Create ``model``'s table on ``alias`` for this test if it is missing.

    When the alias is rolled back and its DDL is transactional (PostgreSQL, sqlite), the table is created
    inside the test's transaction and goes away with its rollback. Otherwise (MariaDB/MySQL, where DDL would
    commit the test's transaction, or a committing alias) it is created through a connection of its own and
    dropped after the test. The SQL is always generated on a
    connection of its own: Django's sqlite schema editor refuses to open inside a transaction.
    """
    own = connections.create_connection(alias)
    builder = SchemaBuilder(alias, [model], connection=own)
    try:
        if builder.existing_tables():
            return
        if alias in state.configured.read_only:  # its real database: no table is made there, not even for one test
            pytest.fail(texts.SWAP_TO_EXISTING_WITHOUT_TABLE.format(
                model=model._meta.label, alias=alias, table=model._meta.db_table), pytrace=False)
        if alias in state.rollback and own.features.can_rollback_ddl:
            with connections[alias].cursor() as cursor:
                for statement in builder.create_sql():
                    cursor.execute(statement)
            return
        builder.install()
    finally:
        own.close()

    def drop() -> None:
        try:
            builder.drop()
        finally:
            own.close()

    state.defer(texts.DROP_TEST_TABLE.format(model=model._meta.label, alias=alias), drop)


@pytest.fixture
def use_db() -> Callable[[Any, str], AbstractContextManager[routing.ConnectionInfo]]:
    """The ``use_db(Model, alias)`` context manager: a swap for this thread / task only, inside the block."""
    return routing.use_db


@pytest.fixture
def multidb(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """What was provisioned so far, per alias: kind, name, settings, provision and install seconds."""
    run = current_run(request)
    return run.session.info() if run is not None else {}


@dataclass
class AliasQueries:
    """Queries run on one alias during the test (since ``db_queries`` was requested)."""

    sql: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sql)

    def __len__(self) -> int:
        return len(self.sql)


class QueryLog(dict):
    """``db_queries["a"].count``: queries per alias. Unknown aliases read as empty."""

    def __missing__(self, alias: str) -> AliasQueries:
        return AliasQueries()


@pytest.fixture
def db_queries(request: pytest.FixtureRequest) -> Iterator[QueryLog]:
    """Capture the queries each declared alias runs during the test: ``assert db_queries["a"].count == 2``.

    Aliases declared later (by a fixture's ``uses_db``, by ``swap_db``) are captured from then on.
    """
    state = current_databases(request)
    log = QueryLog()
    installed: list[tuple[Any, Callable[..., Any]]] = []

    def capture(alias: str) -> None:
        queries = log.setdefault(alias, AliasQueries())

        def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            queries.sql.append(sql)
            return execute(sql, params, many, context)

        conn = connections[alias]
        conn.execute_wrappers.insert(0, wrapper)
        installed.append((conn, wrapper))

    for alias in state.aliases:
        capture(alias)
    state.on_open.append(capture)
    yield log
    state.on_open.remove(capture)
    for conn, wrapper in installed:
        conn.execute_wrappers.remove(wrapper)


@pytest.fixture
def multidb_atomic(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``pytest_multidb.atomic`` over the test's declared aliases: ``with multidb_atomic(): ...``."""
    from .transaction import atomic

    state = current_databases(request)

    def make(**kwargs: Any) -> Any:
        return atomic(connections=list(state.aliases), **kwargs)

    return make
