"""Read-only connections for ``TEST["PROVISION"] = "existing"`` aliases (a real database tests only read).

Three layers:

- every connection of the alias is made read-only for its whole session as soon as it is opened
  (``connection_created``): PostgreSQL ``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``, MariaDB/MySQL
  ``SET SESSION TRANSACTION READ ONLY``, sqlite ``PRAGMA query_only = ON`` on a file opened read-only
  (``file:...?mode=ro``, ``provision/existing.py``), which no statement can write; this covers Django's test
  classes, threads and any connection made apart (``connections.create_connection``);
- every test's transaction is opened READ ONLY (``begin``/``began``, used by ``isolation``);
- an execute wrapper on each of its connections refuses, before the database sees them, the statements that
  would end the test's transaction or lift the read-only mode (``COMMIT``, ``ROLLBACK``, ``SET SESSION
  CHARACTERISTICS AS TRANSACTION READ WRITE``, ``PRAGMA query_only = OFF``, ``SET autocommit``, MariaDB's
  implicitly committing DDL, ...), and a schema editor or ``migrate`` on the alias is refused as well.

A refused write is raised as ``ReadOnlyAliasError``: one line naming the alias and the setting. The session and
transaction settings are no guarantee against code that reaches the driver past Django: ``privileges`` says
whether the configured USER could write (a read-only role is the real guarantee).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import pre_migrate

from .messages import first_line
from .messages import layer as texts

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
    """A test wrote to an ``existing`` alias (or tried to end its transaction or lift its read-only mode); the
    database, or the alias's connection, refused it."""


def message(alias: str, error: BaseException | str) -> str:
    """The one line for a refused write on ``alias``."""
    said = error if isinstance(error, str) else first_line(error)
    return texts.WRITE_REFUSED.format(alias=alias, said=said)


def commit_refused_message(who: str, alias: str) -> str:
    """The one line for a test that would commit on ``alias`` (``who``: the test, and how it would commit):
    refused before the test runs, or when a fixture declares it."""
    return texts.COMMIT_REFUSED.format(who=who, alias=alias)


def refused_message(alias: str, statement: str, why: str) -> str:
    """The one line for a statement refused before it reached the database (it would end the test's transaction
    or lift the read-only mode)."""
    return texts.STATEMENT_REFUSED.format(alias=alias, statement=statement, why=why)


def schema_refused_message(alias: str, how: str) -> str:
    """The one line for ``migrate`` or a schema editor on ``alias``: its real database gets no schema."""
    return texts.SCHEMA_REFUSED.format(alias=alias, how=how)


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


# -- statements that end the test's transaction or lift the read-only mode --------------------------------------

END_TRANSACTION = texts.WOULD_END_TRANSACTION
LIFT = texts.WOULD_LIFT_READ_ONLY
IMPLICIT_COMMIT = texts.WOULD_COMMIT_IMPLICITLY

#: Values that keep a read-only switch on (``SET transaction_read_only = on``, ``PRAGMA query_only = 1``).
KEEPS_READ_ONLY = frozenset({"ON", "1", "TRUE", "YES", "T", "Y"})
#: First words that end the transaction, per vendor (``ROLLBACK TO SAVEPOINT`` is allowed: Django's savepoints).
ENDS = {
    "postgresql": {"COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE"},
    "mysql": {"COMMIT", "ROLLBACK", "BEGIN", "START", "XA"},
    "sqlite": {"COMMIT", "END", "ROLLBACK"},
}
#: First words of the statements that can switch a session's or transaction's mode (``DO``: PostgreSQL's
#: anonymous code block, whose ``EXECUTE 'SET ...'`` could).
SETTING_STATEMENTS = frozenset({"SET", "PRAGMA", "START", "BEGIN", "DO"})
#: MariaDB/MySQL statements that commit the transaction before they run (not on TEMPORARY tables).
IMPLICIT_COMMITS = frozenset({"CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "GRANT", "REVOKE", "LOCK", "UNLOCK",
                              "FLUSH", "ANALYZE", "OPTIMIZE", "REPAIR", "INSTALL", "UNINSTALL"})

_STRINGS = {
    "mysql": r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`[^`]*`",
    "other": r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(?P<tag>\w*)\$.*?\$(?P=tag)\$",  # PostgreSQL: $$...$$ too
}
_COMMENTS = {"mysql": r"--[^\n]*|#[^\n]*|/\*!\d*|/\*.*?\*/", "other": r"--[^\n]*|/\*.*?\*/"}
_TOKENS = {
    vendor: re.compile(rf"(?P<string>{_STRINGS[vendor]})|(?P<comment>{_COMMENTS[vendor]})|(?P<end>;)", re.S)
    for vendor in ("mysql", "other")
}
_READ_WRITE = re.compile(r"\b(?:TRANSACTION|BEGIN|WORK|CHARACTERISTICS)\b[\w\s,]*?\bREAD\s+WRITE\b", re.I)
_SWITCH = re.compile(r"\b(?:(?:DEFAULT_)?TRANSACTION_READ_ONLY|TX_READ_ONLY|QUERY_ONLY|AUTOCOMMIT)\b['\"`]?"
                     r"\s*(?:=|:=|\(|\bTO\b)\s*['\"]?(?P<value>[\w.-]*)", re.I)
_SET_CONFIG = re.compile(r"\bSET_CONFIG\s*\(\s*'(?:DEFAULT_)?TRANSACTION_READ_ONLY'\s*,\s*'(?P<value>[^']*)'", re.I)
_RESET = re.compile(r"^(?:RESET\s+(?:ALL|(?:DEFAULT_)?TRANSACTION_READ_ONLY|SESSION\s+AUTHORIZATION)|DISCARD\s+ALL)\b",
                    re.I)
_ROLLBACK_TO = re.compile(r"^ROLLBACK\s+(?:(?:WORK|TRANSACTION)\s+)?TO\b", re.I)
_TEMPORARY = re.compile(r"^(?:CREATE|DROP)\s+(?:OR\s+REPLACE\s+)?TEMPORARY\b", re.I)


def statements(vendor: str, sql: str) -> list[str]:
    """``sql`` split into its statements, comments dropped (strings kept as they are)."""
    tokens = _TOKENS["mysql" if vendor == "mysql" else "other"]
    found, current, last = [], [], 0
    for match in tokens.finditer(sql):
        current.append(sql[last:match.start()])
        last = match.end()
        if match.lastgroup == "string":
            current.append(match.group())
        elif match.lastgroup == "comment":
            current.append(" ")
        else:
            found.append("".join(current))
            current = []
    current.append(sql[last:])
    found.append("".join(current))
    return [" ".join(statement.split()) for statement in found if statement.strip()]


def refusal(vendor: str, sql: str) -> tuple[str, str] | None:
    """The statement of ``sql`` that may not run on a read-only alias and why (it would end the test's transaction
    or lift the read-only mode), or ``None``: all may (reads, savepoints, and writes, which the database itself
    refuses)."""
    for statement in statements(vendor, sql):
        why = _refusal(vendor, statement)
        if why is not None:
            return statement, why
    return None


def _refusal(vendor: str, statement: str) -> str | None:
    """Why ``statement`` (one, comments dropped) may not run on a read-only alias, or ``None``."""
    words = statement.split(None, 2)
    first = words[0].upper().strip("(")
    if first in ENDS.get(vendor, ()) and not _ROLLBACK_TO.match(statement) and (
            first != "PREPARE" or (len(words) > 1 and words[1].upper() == "TRANSACTION")):
        return END_TRANSACTION
    settings = first in SETTING_STATEMENTS  # (a column named autocommit or query_only in a query is no switch)
    if (settings and _READ_WRITE.search(statement)) or _RESET.match(statement):
        return LIFT
    for switch in (*(_SWITCH.finditer(statement) if settings else ()), *_SET_CONFIG.finditer(statement)):
        if "AUTOCOMMIT" in switch.group().upper():
            return END_TRANSACTION
        if switch.group("value").upper() not in KEEPS_READ_ONLY:
            return LIFT
    if vendor == "mysql" and first in IMPLICIT_COMMITS and not _TEMPORARY.match(statement):
        return IMPLICIT_COMMIT
    return None


def _shown(sql: str) -> str:
    """The statement as the message quotes it: one line, at most 80 characters."""
    text = " ".join(sql.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _read_only_wrapper(alias: str, vendor: str) -> Callable[..., Any]:
    """An execute wrapper that refuses what would end the test's transaction or lift the read-only mode, and
    raises a write the database refused as ``ReadOnlyAliasError``."""

    def refuse(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any) -> Any:
        text = sql.decode(errors="replace") if isinstance(sql, bytes) else sql
        found = refusal(vendor, text) if isinstance(text, str) else None
        if found is not None:
            statement, why = _shown(found[0]), found[1]
            if why == IMPLICIT_COMMIT:  # a write (DDL) the database would refuse, but only after committing
                raise ReadOnlyAliasError(message(alias, texts.REFUSED_DDL.format(statement=statement, why=why)))
            raise ReadOnlyAliasError(refused_message(alias, statement, why))
        try:
            return execute(sql, params, many, context)
        except DatabaseError as error:
            if is_read_only_error(vendor, error):
                raise ReadOnlyAliasError(message(alias, error)) from error
            raise

    refuse.multidb_read_only = alias  # type: ignore[attr-defined]
    return refuse


def _refusing_schema_editor(conn: BaseDatabaseWrapper) -> Callable[..., Any]:
    """``conn.schema_editor`` that refuses to change the schema (collecting SQL, as ``sqlmigrate`` does, is fine)."""
    original = conn.schema_editor

    def schema_editor(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("collect_sql", args[0] if args else False):
            raise ReadOnlyAliasError(schema_refused_message(conn.alias, texts.SCHEMA_EDITOR_REFUSED))
        return original(*args, **kwargs)

    schema_editor.multidb_read_only = conn.alias  # type: ignore[attr-defined]
    return schema_editor


def run_raw(conn: BaseDatabaseWrapper, statements: list[str]) -> None:
    """Run ``statements`` on the driver's connection (no Django cursor: no guard, no wrappers)."""
    cursor = conn.connection.cursor()
    try:
        for sql in statements:
            cursor.execute(sql)
    finally:
        cursor.close()


def make_read_only(conn: BaseDatabaseWrapper) -> None:
    """Make an open connection read-only for its session, refuse what would end the test's transaction, lift
    the read-only mode or change the schema, and map refused writes to ``ReadOnlyAliasError``."""
    run_raw(conn, SESSION_SQL.get(conn.vendor, []))
    if not any(getattr(w, "multidb_read_only", None) == conn.alias for w in conn.execute_wrappers):
        conn.execute_wrappers.append(_read_only_wrapper(conn.alias, conn.vendor))
    if getattr(conn.schema_editor, "multidb_read_only", None) != conn.alias:
        conn.schema_editor = _refusing_schema_editor(conn)  # type: ignore[method-assign]


def _uid(alias: str) -> str:
    return f"multidb-read-only-{alias}"


def enforce(alias: str) -> None:
    """From now on every connection of ``alias`` is read-only from the moment it is opened, and ``migrate`` on it
    is refused (before its ``django_migrations`` table or any migration is attempted)."""

    def opened(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if connection.alias == alias:
            make_read_only(connection)

    def migrating(sender: Any, using: str = "", **kwargs: Any) -> None:
        if using == alias:
            raise ReadOnlyAliasError(schema_refused_message(alias, texts.MIGRATE_REFUSED.format(alias=alias)))

    connection_created.connect(opened, weak=False, dispatch_uid=_uid(alias))
    pre_migrate.connect(migrating, weak=False, dispatch_uid=_uid(alias))


def release(alias: str) -> None:
    """Stop making new connections of ``alias`` read-only (the end of the session)."""
    connection_created.disconnect(dispatch_uid=_uid(alias))
    pre_migrate.disconnect(dispatch_uid=_uid(alias))


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
