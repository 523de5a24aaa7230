"""Read-only connections for ``TEST["PROVISION"] = "existing"`` aliases (a real database tests only read).

Two layers, both enforced by the database itself:

- every connection of the alias is made read-only for its whole session as soon as it is opened
  (``connection_created``): PostgreSQL ``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``, MariaDB/MySQL
  ``SET SESSION TRANSACTION READ ONLY``, sqlite ``PRAGMA query_only = ON``; this covers Django's test
  classes, threads and any connection made apart (``connections.create_connection``);
- every test's transaction is opened READ ONLY (``begin``/``began``, used by ``isolation``).

A write refused by the database is raised as ``ReadOnlyAliasError``: one line naming the alias and the setting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

SETTING = "TEST['PROVISION'] = 'existing'"

#: Per vendor: run once per connection, right after it is opened.
SESSION_SQL: dict[str, list[str]] = {
    "postgresql": ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"],
    "mysql": ["SET SESSION TRANSACTION READ ONLY"],
    "sqlite": ["PRAGMA query_only = ON"],
}
#: Per vendor: before a test's transaction starts, and as its first statement.
BEFORE_SQL: dict[str, list[str]] = {
    "mysql": ["SET SESSION TRANSACTION READ ONLY"],
    "sqlite": ["PRAGMA query_only = ON"],
}
FIRST_SQL: dict[str, list[str]] = {"postgresql": ["SET TRANSACTION READ ONLY"]}

#: sqlite's result code for "attempt to write a readonly database" (``SQLITE_READONLY``).
SQLITE_READONLY = 8


class ReadOnlyAliasError(DatabaseError):
    """A test wrote to an ``existing`` alias; the database refused it."""


def message(alias: str, error: BaseException) -> str:
    """The one line for a refused write on ``alias``."""
    said = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return (f"alias {alias!r} is {SETTING}: its database is read-only in tests and refused a write ({said}). "
            f"Fix: write to a test database alias, or give {alias!r} another TEST['PROVISION'] kind.")


def is_read_only_error(vendor: str, error: BaseException) -> bool:
    """Whether ``error`` (a Django database error) is the database refusing a write in read-only mode."""
    cause = error.__cause__ or error
    if vendor == "postgresql":
        return getattr(cause, "sqlstate", None) == "25006"  # read_only_sql_transaction
    if vendor == "mysql":
        return bool(getattr(cause, "args", None)) and cause.args[0] == 1792  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    if vendor == "sqlite":
        code = getattr(cause, "sqlite_errorcode", None)  # Python 3.11+
        return code == SQLITE_READONLY or "readonly database" in str(cause)
    return False


def _mapping_wrapper(alias: str, vendor: str) -> Callable[..., Any]:
    """An execute wrapper that raises a refused write as ``ReadOnlyAliasError``."""

    def refuse(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        try:
            return execute(sql, params, many, context)
        except DatabaseError as error:
            if is_read_only_error(vendor, error):
                raise ReadOnlyAliasError(message(alias, error)) from error
            raise

    refuse.multidb_read_only = alias  # type: ignore[attr-defined]
    return refuse


def run_raw(conn: BaseDatabaseWrapper, statements: list[str]) -> None:
    """Run ``statements`` on the driver's connection (no Django cursor: no guard, no wrappers)."""
    cursor = conn.connection.cursor()
    try:
        for sql in statements:
            cursor.execute(sql)
    finally:
        cursor.close()


def make_read_only(conn: BaseDatabaseWrapper) -> None:
    """Make an open connection read-only for its session and map refused writes to ``ReadOnlyAliasError``."""
    run_raw(conn, SESSION_SQL.get(conn.vendor, []))
    if not any(getattr(w, "multidb_read_only", None) == conn.alias for w in conn.execute_wrappers):
        conn.execute_wrappers.append(_mapping_wrapper(conn.alias, conn.vendor))


def _uid(alias: str) -> str:
    return f"multidb-read-only-{alias}"


def enforce(alias: str) -> None:
    """From now on every connection of ``alias`` is read-only from the moment it is opened."""

    def opened(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if connection.alias == alias:
            make_read_only(connection)

    connection_created.connect(opened, weak=False, dispatch_uid=_uid(alias))


def release(alias: str) -> None:
    """Stop making new connections of ``alias`` read-only (the end of the session)."""
    connection_created.disconnect(dispatch_uid=_uid(alias))


def begin(conn: BaseDatabaseWrapper) -> None:
    """Before a test's transaction on a read-only alias (MariaDB, sqlite: the session is read-only)."""
    _execute(conn, BEFORE_SQL.get(conn.vendor, []))


def began(conn: BaseDatabaseWrapper) -> None:
    """The first statement of a test's transaction on a read-only alias (PostgreSQL: this transaction)."""
    _execute(conn, FIRST_SQL.get(conn.vendor, []))


def _execute(conn: BaseDatabaseWrapper, statements: list[str]) -> None:
    if statements:
        with conn.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
