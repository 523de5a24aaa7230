"""MySQL and MariaDB: the driver's autocommit left off from one rollback test to the next.

A rollback test's ``atomic()`` turns the driver's autocommit off as the test starts (``SET autocommit=0``) and on
again after its ``ROLLBACK`` (``SET autocommit=1``): three round trips per test and alias. Between two rollback
tests nothing needs it on, so it is left off when a rollback test ends and not set again when the next one
starts: one round trip (the ``ROLLBACK``). Django's own code runs unchanged (``Atomic.__enter__`` and ``__exit__``,
every flag they set); only the two driver calls that would undo each other are left out. MySQL starts the next
transaction with the next test's first statement either way, and its ``NOW()`` is the statement's time: a test
cannot tell.

Between the two tests Django believes autocommit on, and the driver has it off. Whatever uses the connection then
(a committing test, a Django test class, a fixture or the plugin outside any test, the session's end) passes
through the connection's ``ensure_connection`` first, and there the driver's autocommit is put back on before
anything runs. Not covered: code that takes the driver's own connection (``connection.connection``) between two
tests without asking Django for it.

A rollback test that sent nothing to the alias (declared, never queried) sends nothing at its end either: with
autocommit off the server opens a transaction only with a statement, so there is nothing for a ``ROLLBACK`` to
end. Every statement of the driver goes through its connection's ``query()`` (mysqlclient's cursors, raw
cursors, ``executemany``, ``callproc``, PyMySQL's alike), so a one-shot wrapper there, put on as the test's
``atomic()`` begins and taking itself away at the first statement, tells it without a round trip and costs a
touched alias one call.

Other backends keep Django's path: on PostgreSQL psycopg sends nothing to turn autocommit off or on (its
``BEGIN`` goes with the test's first statement, and sending it earlier would move ``now()``, the transaction's
start, before the test), and sqlite runs in the process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from .deferred_checks import forks, maybe_closed

#: The backends (``connection.vendor``) whose driver sends a statement to turn autocommit off or on.
VENDORS = frozenset({"mysql"})

#: The attribute of a connection whose driver was left with autocommit off (Django believes it on).
_STATE = "_multidb_autocommit_left_off"


@dataclass
class _LeftOff:
    #: The driver's connection that has autocommit off (a connection made since got Django's autocommit).
    raw: Any
    #: A rollback test's ``atomic()`` is starting: it may use the connection as it is.
    entering: bool = False


def applies(conn: BaseDatabaseWrapper) -> bool:
    """Whether ``conn``'s backend sends statements to turn autocommit off and on."""
    return conn.vendor in VENDORS


def left_off(conn: BaseDatabaseWrapper) -> bool:
    """Whether ``conn``'s driver has autocommit off while Django believes it on (between two rollback tests)."""
    state = conn.__dict__.get(_STATE)
    return state is not None and state.raw is conn.connection and state.raw is not None


@contextmanager
def _driver_call(conn: BaseDatabaseWrapper, name: str, replacement: Callable[..., None]) -> Iterator[None]:
    """While inside: ``conn.<name>(*args)`` (one of the backend's calls to the driver: ``_set_autocommit``,
    ``_rollback``) is ``replacement(original, *args)``. A wrapper already on the instance (a round-trip counter)
    stays under it."""
    previous = conn.__dict__.get(name)
    original = getattr(conn, name)
    setattr(conn, name, lambda *args: replacement(original, *args))
    try:
        yield
    finally:
        if previous is None:
            delattr(conn, name)
        else:
            setattr(conn, name, previous)


class _FirstStatement:
    """The driver connection's ``query`` until its first statement: puts the connection's own back, then sends."""

    __slots__ = ("forks", "previous", "raw")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.previous = raw.__dict__.get("query")  # a wrapper of the instance's own (a counter), kept under it
        self.forks = forks()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.take_away()
        return self.raw.query(*args, **kwargs)

    def take_away(self) -> None:
        if self.previous is None:
            self.raw.__dict__.pop("query", None)
        else:
            self.raw.query = self.previous


def _watch_statements(raw: Any) -> None:
    """From now until ``raw`` sends a statement, :func:`_sent_nothing` says so."""
    if raw is not None and hasattr(raw, "__dict__") and callable(getattr(raw, "query", None)):
        raw.query = _FirstStatement(raw)


def _sent_nothing(raw: Any) -> bool:
    """Whether ``raw`` sent no statement since :func:`_watch_statements` and nothing may have closed it meanwhile
    (``deferred_checks.maybe_closed``: then its ``ROLLBACK`` is sent, as under Django: it fails, and Django's
    ``atomic()`` drops the connection for the next test); the watch ends either way."""
    watch = getattr(raw, "__dict__", {}).get("query")
    if not isinstance(watch, _FirstStatement):
        return False
    watch.take_away()
    return not maybe_closed(raw, watch.forks)


@contextmanager
def leaving(conn: BaseDatabaseWrapper) -> Iterator[None]:
    """Around a rollback test's ``atomic().__exit__``: the ``SET autocommit=1`` after its ``ROLLBACK`` is not sent;
    the driver's autocommit stays off until the next rollback test starts or anything else uses the connection.
    The ``ROLLBACK`` is not sent either when the test sent no statement (:func:`entering` with ``watch``)."""
    raw = conn.connection
    if not applies(conn) or raw is None or conn.autocommit:  # Django's view: off inside the test's atomic()
        yield
        return
    nothing_to_end = _sent_nothing(raw)

    def keep_off(original: Callable[[bool], None], value: bool) -> None:
        if value and raw is conn.connection:  # the same driver connection the test's atomic() turned off
            _leave_off(conn, raw)
        else:
            original(value)

    with _driver_call(conn, "_set_autocommit", keep_off):
        if nothing_to_end:
            with _driver_call(conn, "_rollback", lambda _original: None):
                yield
        else:
            yield


@contextmanager
def entering(conn: BaseDatabaseWrapper, watch: bool = False) -> Iterator[None]:
    """Around a rollback test's ``atomic().__enter__``: when the test before left the driver's autocommit off,
    the ``SET autocommit=0`` is not sent. ``watch``: from the ``atomic()``'s start, whether the test sends a
    statement is noted, for :func:`leaving`."""
    with _entering(conn):
        yield
    if watch and applies(conn):
        _watch_statements(conn.connection)


@contextmanager
def _entering(conn: BaseDatabaseWrapper) -> Iterator[None]:
    if not left_off(conn):
        _forget(conn)
        yield
        return
    state: _LeftOff = conn.__dict__[_STATE]
    state.entering = True

    def already_off(original: Callable[[bool], None], value: bool) -> None:
        off = not value and state.raw is conn.connection
        _forget(conn)  # either way Django now believes what the driver has
        if not off:
            original(value)

    try:
        with _driver_call(conn, "_set_autocommit", already_off):
            yield
    except BaseException:
        if _STATE in conn.__dict__:  # atomic() failed before turning autocommit off: back on, as Django believes
            state.entering = False
            with suppress(Exception):  # the error that stopped atomic() is the one to report
                put_back(conn)
        raise
    if _STATE in conn.__dict__:
        state.entering = False
        put_back(conn)


def put_back(conn: BaseDatabaseWrapper) -> None:
    """The driver's autocommit on again, as Django believes it (nothing if it was not left off)."""
    off = left_off(conn)
    _forget(conn)
    if off:
        conn._set_autocommit(True)


def _leave_off(conn: BaseDatabaseWrapper, raw: Any) -> None:
    """Note that ``conn``'s driver connection ``raw`` has autocommit off, and put it back on before anything but
    the next rollback test's ``atomic()`` uses the connection."""
    state = conn.__dict__[_STATE] = _LeftOff(raw)

    def ensure_connection() -> Any:
        result = type(conn).ensure_connection(conn)  # Django's, with the access guard's check
        if not state.entering:
            put_back(conn)
        return result

    conn.ensure_connection = ensure_connection  # type: ignore[method-assign]


def _forget(conn: BaseDatabaseWrapper) -> None:
    conn.__dict__.pop(_STATE, None)
    conn.__dict__.pop("ensure_connection", None)
