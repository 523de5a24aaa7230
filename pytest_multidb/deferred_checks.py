"""The end of a rollback test as Django's ``TestCase`` ends it: deferred constraints checked, a dead connection dropped.

``TestCase._fixture_teardown`` (and so pytest-django's ``db``), before rolling back, calls ``check_constraints()``
on each of the test's databases whose backend defers constraint checks (PostgreSQL, sqlite), unless the connection
``needs_rollback`` or is not ``is_usable()``: a row the test left pointing nowhere fails the test at its teardown
with Django's ``IntegrityError``. ``is_usable()`` also finds a connection that died during the test (a forked child
closed it): the rollback then fails and Django's ``atomic()`` drops the connection, so the next test gets a new
one. The same outcomes here, without the round trips that cannot change them:

- an alias the test sent nothing to (PostgreSQL: the driver opened no transaction) or wrote nothing to (sqlite: the
  connection's change counter did not move) can hold no new violation; unless the process forked during the test
  (a child may have closed what it inherited: its goodbye reaches the server before anything the test sends, so
  Django's sequence finds it every time) or the socket shows the server closed it (no round trip), nothing is
  sent;
- on a connection the test used, ``check_constraints()`` is run (on PostgreSQL through psycopg 3, in one round
  trip with the rollback that follows it) without the ``SELECT 1`` of ``is_usable()``: where
  that would have said "not usable" (a dead connection, PostgreSQL's aborted transaction), the check fails with
  another error than an ``IntegrityError``, which is dropped as Django drops the check, and the rollback that
  follows behaves as under Django.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError, IntegrityError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

#: How many times this process has forked (``os.register_at_fork``, in the parent): a child may close connections
#: it inherited. ``subprocess`` does not count (its children close every inherited descriptor before they run).
_FORKS = [0]


def _forked() -> None:
    _FORKS[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_parent=_forked)


def forks() -> int:
    """How many times this process has forked so far."""
    return _FORKS[0]


def _changes(raw: Any) -> int | None:
    """sqlite: the rows this driver connection has written since it opened; ``None`` elsewhere, or when it cannot
    tell (closed under Django's feet)."""
    try:
        return getattr(raw, "total_changes", None)
    except Exception:
        return None


class DeferredChecks:
    """What each rollback alias looked like as its test's transaction began, and the check at the test's end."""

    def __init__(self) -> None:
        #: alias -> (the driver connection, its change counter then).
        self._begun: dict[str, tuple[Any, int | None]] = {}
        self._forks = forks()

    def begun(self, alias: str) -> None:
        """``alias``'s test transaction has begun."""
        raw = connections[alias].connection
        self._begun[alias] = (raw, _changes(raw))

    def check(self, aliases: Iterable[str]) -> None:
        """Django's ``_fixture_teardown`` check of ``aliases`` (in settings order, the last first, as Django goes);
        raises Django's ``IntegrityError`` for a deferred constraint the test broke."""
        chosen = set(aliases)
        for alias in reversed([alias for alias in connections if alias in chosen]):
            conn = connections[alias]
            if not conn.features.can_defer_constraint_checks or conn.needs_rollback or conn.connection is None:
                continue
            if self._quiet(alias, conn):
                continue
            if conn.vendor in ("postgresql", "sqlite"):
                try:
                    if not _check_and_roll_back(conn):
                        conn.check_constraints()
                except IntegrityError:
                    raise
                except DatabaseError:  # where is_usable() says no: dead, or PostgreSQL's aborted transaction
                    continue
            elif conn.is_usable():  # another backend: Django's sequence as it is
                conn.check_constraints()

    def _quiet(self, alias: str, conn: BaseDatabaseWrapper) -> bool:
        """Whether the test neither wrote to ``alias`` nor could have found its connection closed."""
        raw, changes_then = self._begun.get(alias, (None, None))
        if raw is None or raw is not conn.connection:
            return False  # reconnected during the test: Django's path
        if conn.vendor == "sqlite":
            changes_now = _changes(raw)
            return changes_then is not None and changes_now is not None and changes_now == changes_then
        if conn.vendor == "postgresql":
            return _idle_postgresql(raw) and forks() == self._forks and not _readable(raw)
        return False


#: PostgreSQL's ``check_constraints()`` and the rollback Django's ``atomic()`` sends after it, as one statement.
_CHECK_AND_ROLL_BACK = "SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED; ROLLBACK"


def _check_and_roll_back(conn: BaseDatabaseWrapper) -> bool:
    """PostgreSQL through psycopg 3, inside the test's own ``atomic()`` and nothing more: Django's check and the
    rollback that follows it in one round trip instead of three. psycopg runs a statement string without
    parameters as one simple query (the statements after a failing one are not run, so a violation leaves the
    transaction for Django's rollback, as it does today) and keeps its transaction status from the server's
    reply: ``atomic()``'s rollback then finds the driver idle and sends nothing. ``False`` where this does not hold
    (psycopg 2 tracks its own status and would send its ``ROLLBACK`` anyway; a savepoint the test left open;
    psycopg's own ``transaction()`` blocks or prepared statements, whose state a ``ROLLBACK`` it did not send
    would leave wrong; a backend or test that replaced ``check_constraints()``): Django's ``check_constraints()``."""
    raw = conn.connection
    only_the_test_s_atomic = len(conn.atomic_blocks) == 1 and not conn.savepoint_ids
    psycopg_state_untouched = getattr(raw, "_num_transactions", 1) == 0 and getattr(raw, "prepare_threshold", 0) is None
    if not (_djangos_own_check(conn) and only_the_test_s_atomic and psycopg_state_untouched
            and _psycopg3_status(raw) == _INTRANS):
        return False
    with conn.cursor() as cursor:
        cursor.execute(_CHECK_AND_ROLL_BACK)
    return True


def _djangos_own_check(conn: BaseDatabaseWrapper) -> bool:
    """Whether ``conn.check_constraints`` is Django's PostgreSQL one (not a subclass's, not patched on it)."""
    own = getattr(type(conn).check_constraints, "__module__", None) == "django.db.backends.postgresql.base"
    return own and "check_constraints" not in vars(conn)


#: psycopg's transaction status (``psycopg.pq.TransactionStatus``, psycopg 2's ``TRANSACTION_STATUS_*`` alike):
#: no transaction; idle inside one.
_IDLE, _INTRANS = 0, 2


def _psycopg3_status(raw: Any) -> int | None:
    """psycopg 3's transaction status of a driver connection, read off the server's last reply; ``None`` for
    another driver."""
    info = getattr(raw, "info", None)
    if info is None or not hasattr(info, "transaction_status"):
        return None
    return int(info.transaction_status)


def _idle_postgresql(raw: Any) -> bool:
    """Whether psycopg (3 or 2) holds no transaction: nothing was sent since the test's ``atomic()`` began."""
    try:
        status = _psycopg3_status(raw)
        return (status if status is not None else int(raw.get_transaction_status())) == _IDLE
    except Exception:
        return False


def _readable(raw: Any) -> bool:
    """Whether something arrived on an idle driver connection's socket (the server closed it, or a notice):
    ``select`` with no wait, nothing read. ``True`` when the socket cannot be looked at."""
    try:
        readable, _, _ = select.select([raw.fileno()], [], [], 0)
    except Exception:
        return True
    return bool(readable)


def maybe_closed(raw: Any, forks_then: int) -> bool:
    """Whether an idle driver connection (MySQL/MariaDB between statements) may have been closed behind its back
    since ``forks_then`` (``forks()``): the process forked since, or something waits on its socket."""
    return forks() != forks_then or _readable(raw)
