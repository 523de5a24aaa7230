"""Id counters: PostgreSQL's sequences, MySQL's and MariaDB's ``AUTO_INCREMENT``, sqlite's ``sqlite_sequence``.

A rollback does not take PostgreSQL's or MySQL's counters back, and emptying a committing test's rows does not
take sqlite's back either: within a session that is what Django's runner does too. A warm database kept for the
next session (``warm.py``) would start that session with them where this one left them, where Django's runner and
pytest-django make a new database whose ids start where the schema install left them (a suite asserting
``pk == 1`` passes once, then fails on every later run). So the counters are read with the install's baseline
(``emptying.Baseline``) and put back before a warm database is kept.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction

#: alias's counters: name (a sequence, a table) -> what it holds, as ``read`` gives it per vendor.
Counters = dict[str, tuple[Any, ...]]

_POSTGRESQL = (
    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value, start_value "
    "FROM pg_sequences WHERE schemaname NOT LIKE 'pg\\_%' AND schemaname <> 'information_schema'"
)
_MYSQL = ("SELECT table_name, auto_increment FROM information_schema.tables "
          "WHERE table_schema = DATABASE() AND auto_increment IS NOT NULL")


def read(alias: str) -> Counters:
    """Every id counter of ``alias``'s database and where it stands (one or two queries)."""
    conn = connections[alias]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(_POSTGRESQL)
            return {name: (last, start) for name, last, start in cursor.fetchall()}
        if conn.vendor == "mysql":
            if not conn.mysql_is_mariadb:  # MySQL 8 caches these figures for a day by default
                cursor.execute("SET SESSION information_schema_stats_expiry = 0")
            cursor.execute(_MYSQL)
            return {name: (int(value),) for name, value in cursor.fetchall()}
        if conn.vendor == "sqlite":
            cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")
            if not cursor.fetchone()[0]:
                return {}
            cursor.execute("SELECT name, seq FROM sqlite_sequence")
            return {name: (seq,) for name, seq in cursor.fetchall()}
    return {}


def put_back(alias: str, saved: Counters) -> list[str]:
    """Put ``alias``'s counters back where ``saved`` says; returns the names of those that had moved. A counter
    ``saved`` does not know (made after it was read) is left alone on the servers, removed on sqlite."""
    now = read(alias)
    moved = sorted(name for name, value in saved.items() if name in now and now[name] != value)
    conn = connections[alias]
    if conn.vendor == "sqlite":
        moved = sorted({*moved, *(name for name in now if name not in saved)})
    if not moved:
        return []
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":  # setval is not transactional: one statement for all of them
            calls = ", ".join(["setval(%s::regclass, %s, %s)"] * len(moved))
            params: list[Any] = []
            for name in moved:
                last, start = saved[name]
                params += [name, start if last is None else last, last is not None]
            cursor.execute(f"SELECT {calls}", params)
        elif conn.vendor == "mysql":  # InnoDB changes the counter in place, no table copy
            for name in moved:
                cursor.execute(f"ALTER TABLE {conn.ops.quote_name(name)} AUTO_INCREMENT = {int(saved[name][0])}")
        else:
            with transaction.atomic(using=alias):
                cursor.execute("DELETE FROM sqlite_sequence")
                for name, (seq,) in saved.items():
                    cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [name, seq])
    return moved
