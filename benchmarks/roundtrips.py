"""A pytest plugin that counts the database round trips of each test (setup, call and teardown), per alias.

    pytest -p roundtrips ...   (with ``BENCH_ROUNDTRIPS_OUT=<file>``: the counts are written there as JSON)

Counted, not estimated, where the client sends something to the server:

- every statement Django runs through a cursor (an execute wrapper on each connection, installed as it is made:
  the tests' own queries, savepoints, ``BEGIN`` on sqlite, the tools' own emptying and checks);
- the transaction control Django asks of the driver (``_commit``, ``_rollback``, ``_set_autocommit``): on
  PostgreSQL a commit or rollback is sent only when the driver holds a transaction (psycopg sends nothing on an
  idle connection) and setting autocommit sends nothing; on MySQL/MariaDB each is a statement (``COMMIT``,
  ``ROLLBACK``, ``SET autocommit``);
- PostgreSQL's implicit ``BEGIN``: psycopg sends one before a statement when autocommit is off and no transaction
  is open.

The first and the last test are not counted: session fixtures are set up while the first starts (provisioning,
migrations, cache restores) and torn down as the last ends (warm databases kept, templates swept); every test of a
suite has the same shape, so the others are what one test costs. sqlite
runs in the process: its statements are counted too, as what would be round trips on a server.
"""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter
from typing import Any

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

#: alias -> round trips during tests; and the tests counted.
COUNTS: Counter[str] = Counter()
TESTS = [0]
ACTIVE = [False]
SEEN = [False]


def _idle_postgresql(conn: BaseDatabaseWrapper) -> bool:
    """Whether the driver holds no transaction (psycopg 3 or 2)."""
    raw = conn.connection
    info = getattr(raw, "info", None)
    if info is not None and hasattr(info, "transaction_status"):
        return int(info.transaction_status) == 0  # psycopg.pq.TransactionStatus.IDLE
    return raw.get_transaction_status() == 0  # psycopg2.extensions.TRANSACTION_STATUS_IDLE


def _count(conn: BaseDatabaseWrapper, n: int = 1) -> None:
    if ACTIVE[0]:
        COUNTS[conn.alias] += n


def _wrapper(conn: BaseDatabaseWrapper) -> Any:
    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if conn.vendor == "postgresql" and not conn.get_autocommit() and _idle_postgresql(conn):
            _count(conn)  # the BEGIN psycopg sends first
        _count(conn)
        return execute(sql, params, many, context)

    return count


def _on_connect(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if not getattr(connection, "_bench_counted", False):  # once per wrapper, however often it reconnects
        connection._bench_counted = True
        connection.execute_wrappers.append(_wrapper(connection))
        _patch(connection, "_commit", _transaction_control)
        _patch(connection, "_rollback", _transaction_control)
        _patch(connection, "_set_autocommit", lambda conn, *args: conn.vendor == "mysql")


def _patch(conn: BaseDatabaseWrapper, name: str, sends: Any) -> None:
    """Count ``conn``'s ``name`` (its backend's own method: backends override them) when it reaches the server."""
    original = getattr(conn, name)

    def counted(*args: Any) -> Any:
        if conn.connection is not None and sends(conn, *args):
            _count(conn)
        return original(*args)

    setattr(conn, name, counted)


def _transaction_control(conn: BaseDatabaseWrapper, *args: Any) -> bool:
    if conn.vendor == "postgresql":
        return not _idle_postgresql(conn)
    return conn.vendor == "mysql"


connection_created.connect(_on_connect, dispatch_uid="bench-roundtrips")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    counted = SEEN[0] and nextitem is not None
    SEEN[0] = True
    ACTIVE[0] = counted
    try:
        yield
    finally:
        ACTIVE[0] = False
        TESTS[0] += counted


def _write() -> None:
    out = os.environ.get("BENCH_ROUNDTRIPS_OUT")
    if out:
        with open(out, "w") as handle:
            json.dump({"tests": TESTS[0], "round_trips": dict(COUNTS)}, handle)  # tests: the ones counted


atexit.register(_write)
