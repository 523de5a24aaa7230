"""Per-test isolation: one transaction per declared alias, thread sharing, emptying, every undo run.

Hot path per test and alias: one ``atomic`` entered at setup and rolled back at teardown. Nothing else.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.core.management.sql import emit_post_migrate_signal
from django.db import connections, transaction
from django.db.backends.base.base import (
    BaseDatabaseWrapper,
)
from django.db.backends.signals import connection_created

from . import readonly
from .emptying import Baseline, empty_written_tables
from .guard import AccessGuard
from .schema import SchemaBuilder


class SharedConnections:
    """Connection storage that hands every thread the test's own connection for the shared aliases.

    Django's ``LiveServerThread`` does this per thread with ``connections_override``; here it covers any
    thread the test starts, so a thread (or a live server) sees the test's uncommitted rows. Other aliases
    keep Django's per-thread storage.
    """

    def __init__(self, local: Any, shared: dict[str, BaseDatabaseWrapper]) -> None:
        object.__setattr__(self, "_local", local)
        object.__setattr__(self, "_shared", shared)

    def __getattr__(self, alias: str) -> BaseDatabaseWrapper:
        shared = object.__getattribute__(self, "_shared")
        if alias in shared:
            return shared[alias]
        return getattr(object.__getattribute__(self, "_local"), alias)

    def __setattr__(self, alias: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_local"), alias, value)

    def __delattr__(self, alias: str) -> None:
        delattr(object.__getattribute__(self, "_local"), alias)


#: How long a thread waits for the shared connection before it is told who holds it.
LOCK_TIMEOUT = 30.0


class ConnectionLock:
    """Who may use a shared connection now: one thread at a time, re-entrant, from a cursor's creation to its close.

    A cursor's whole life is serialised, not just ``execute``: its fetches (sqlite's ``INSERT ... RETURNING``
    rows) and its close (MySQLdb reads the remaining result sets) talk to the same connection, and another
    thread's query in between breaks them. Unlike ``threading.RLock`` it may be released from another thread
    (a cursor closed by a thread that did not open it).
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.owner: threading.Thread | None = None
        self.depth = 0
        self._free = threading.Condition()

    def acquire(self) -> None:
        me = threading.current_thread()
        with self._free:
            if not self._free.wait_for(lambda: self.owner in (None, me), LOCK_TIMEOUT):
                holder = self.owner.name if self.owner else "?"
                raise TimeoutError(
                    f"multidb: thread {me.name!r} waited {LOCK_TIMEOUT:.0f} s for the test's connection of alias "
                    f"{self.alias!r}, which thread {holder!r} holds with an open cursor. Fix: close the cursor "
                    "(or finish iterating .iterator()) before another thread queries."
                )
            self.owner, self.depth = me, self.depth + 1

    def release(self) -> None:
        with self._free:
            self.depth -= 1
            if self.depth == 0:
                self.owner = None
                self._free.notify_all()


def _locked_cursors(conn: BaseDatabaseWrapper, lock: ConnectionLock, seen: Callable[[], None]) -> Callable[..., Any]:
    """A ``_prepare_cursor`` for a shared connection: each cursor holds ``lock`` from creation to close;
    ``seen()`` is called in the thread that made it."""
    original = conn._prepare_cursor

    def prepare_cursor(cursor: Any) -> Any:
        lock.acquire()
        try:
            wrapper = original(cursor)
        except BaseException:
            lock.release()
            raise
        seen()
        close, released = wrapper.close, []

        def close_and_release() -> None:
            try:
                close()
            finally:
                if not released:
                    released.append(True)
                    lock.release()

        wrapper.close = close_and_release
        return wrapper

    return prepare_cursor


def _closed_by_owner_only(conn: BaseDatabaseWrapper) -> Callable[[], None]:
    """A ``close`` for a shared connection that only the test's own thread can use.

    Other threads close "their" connections as a matter of course: Django's request handling
    (``close_old_connections`` closes a connection in a transaction) and ``LiveServerThread`` /
    ``ThreadedWSGIServer`` (``connections.close_all()`` after each request and at shutdown). On the shared
    connection that would end the test's transaction and lose its rows.
    """
    original, owner = conn.close, threading.get_ident()

    def close() -> None:
        if threading.get_ident() == owner:
            original()

    return close


def _executors() -> dict[threading.Thread, Executor]:
    """asgiref's executors by worker thread: ``sync_to_async`` (the async ORM, ``AsyncClient``'s views) runs
    there. They outlive every test by design and hold nothing between calls, so they are not the test's
    threads; each has one worker, so a job submitted to it runs in that thread."""
    try:
        from asgiref.sync import SyncToAsync
    except ImportError:  # asgiref comes with Django; without it there is nothing to exclude
        return {}
    executors = [SyncToAsync.single_thread_executor, *getattr(SyncToAsync, "context_to_thread_executor", {}).values()]
    return {thread: executor for executor in executors for thread in getattr(executor, "_threads", ())}


def _runs_sync_to_async() -> bool:
    """Whether this thread is running ``sync_to_async`` work now (asgiref marks such threads with the event
    loop they work for)."""
    try:
        from asgiref.sync import SyncToAsync
    except ImportError:
        return False
    return getattr(SyncToAsync.threadlocal, "main_event_loop", None) is not None


def _close_from_here(conn: BaseDatabaseWrapper) -> None:
    """Close another (finished or idle) thread's connection from this thread."""
    conn.inc_thread_sharing()
    try:
        with suppress(Exception):  # a broken connection is as good as closed
            conn.close()
    finally:
        conn.dec_thread_sharing()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


#: Called when an undo step on an alias failed and its connection was replaced: the run checks whether the
#: alias's server is gone and returns the one line that says so (else ``None``).
Diagnose = Callable[[str, BaseException], "str | None"]


class DeclarationConflict(Exception):
    """Two declarations of one test disagree on an alias in a way that cannot be honoured."""


@dataclass
class TestDatabases:
    """The databases one test has opened, and how to put them back afterwards.

    Every change is registered with its undo on an ``ExitStack`` as it is made; ``close()`` runs every undo
    even when another fails, replaces a connection found broken (so the next test gets a fresh one) and
    returns one line per problem.
    """

    test_id: str
    guard: AccessGuard
    reset_sequences: bool = False
    baselines: Mapping[str, Baseline] = field(default_factory=dict)
    diagnose: Diagnose = lambda alias, error: None
    #: alias -> the line already given saying its server is gone (the run's); their failures are not repeated.
    broken: Mapping[str, str] = field(default_factory=dict)
    #: ``TEST["MIRROR"]`` aliases -> their primary: opening a mirror opens its primary and reads through it.
    mirrors: Mapping[str, str] = field(default_factory=dict)
    #: ``TEST["PROVISION"] = "existing"`` aliases: READ ONLY transactions, never committing, never reset.
    read_only: frozenset[str] = frozenset()
    rollback: dict[str, transaction.Atomic] = field(default_factory=dict)
    committing: list[str] = field(default_factory=list)
    #: Committing aliases that get ``post_migrate`` after their emptying, as Django's flush sends it (a
    #: ``django_db(transaction=True)`` test: ``compat/pytest_django.py``); ``uses_db`` tests get none.
    post_migrate: set[str] = field(default_factory=set)
    #: Called with each alias opened from now on (after its transaction started), e.g. by ``db_queries``.
    on_open: list[Callable[[str], None]] = field(default_factory=list)
    _undo: ExitStack = field(default_factory=ExitStack)
    #: Undone after the aliases' transactions ended: swaps, tables made for the test only (``defer``).
    _late: ExitStack = field(default_factory=ExitStack)
    _problems: list[str] = field(default_factory=list)
    _shared: dict[str, BaseDatabaseWrapper] = field(default_factory=dict)
    _users: set[int] = field(default_factory=set)
    #: Threads seen running ``sync_to_async`` work (asgiref's executors, an event loop's default executor).
    _workers: set[threading.Thread] = field(default_factory=set)
    _threads_before: set[threading.Thread] = field(default_factory=set)
    _storage: Any = None
    #: Connections that other threads opened on committing aliases during the test.
    _opened_elsewhere: list[tuple[threading.Thread, BaseDatabaseWrapper]] = field(default_factory=list)
    _owner: int = 0

    def __post_init__(self) -> None:
        self._threads_before = set(threading.enumerate())
        self._owner = threading.get_ident()
        self.guard.start_test(self.test_id)
        self._undo.callback(self._step, "ending the test's database access", None, self.guard.end_test)
        self._undo.callback(self._step, "closing connections of the test's threads", None,
                            self._close_connections_of_threads)
        self._undo.enter_context(self._late)

    def _connection_created(self, sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if connection.alias in self.committing and threading.get_ident() != self._owner:
            self._opened_elsewhere.append((threading.current_thread(), connection))
            self._note_worker()

    def _seen(self) -> None:
        """A thread made a cursor on a shared connection."""
        self._users.add(threading.get_ident())
        self._note_worker()

    def _note_worker(self) -> None:
        if _runs_sync_to_async():
            self._workers.add(threading.current_thread())

    @property
    def aliases(self) -> tuple[str, ...]:
        return (*self.rollback, *self.committing)

    def open(self, alias: str, commit: bool) -> None:
        """Declare ``alias`` for this test: start its rollback transaction, or note it commits for real.

        An alias commits when any of the test's declarations asks for commits; one that asks after the alias was
        opened rolled back (a fixture's ``uses_db(..., transaction=True)`` after the marker) cannot be honoured:
        ``DeclarationConflict``.
        """
        if commit and alias in self.rollback:
            raise DeclarationConflict(
                f"{self.test_id}: uses_db({alias!r}, transaction=...) asks {alias!r} to commit, but an earlier "
                f"declaration (the test's marker, or a fixture set up before) opened it rolled back. Fix: ask for "
                f"the commit where {alias!r} is first declared, e.g. @pytest.mark.uses_db({alias!r}, "
                f"transaction=[{alias!r}])."
            )
        if alias in self.rollback or alias in self.committing or alias in self._shared:
            return
        primary = self.mirrors.get(alias)
        if primary is not None:
            self._open_mirror(alias, primary, commit)
            return
        self.guard.allow([alias])
        read_only = alias in self.read_only
        if commit and read_only:
            raise readonly.ReadOnlyAliasError(
                f"{self.test_id}: transaction=True on {alias!r}, which is {readonly.SETTING}: its real database, "
                f"read-only in tests. Fix: keep {alias!r} in rollback mode, or write to a test database alias."
            )
        if self.reset_sequences and not read_only:  # before the test, like TransactionTestCase; outside its
            baseline = self.baselines.get(alias)   # transaction (MySQL DDL)
            reset_sequences(alias, keep=baseline.counts if baseline else (), extra=baseline.extra if baseline else ())
        if commit:
            if not self.committing:
                connection_created.connect(self._connection_created, weak=False, dispatch_uid=id(self))
            self.committing.append(alias)
            self._undo.callback(self._step, f"emptying what the test committed on {alias!r}", alias,
                                functools.partial(self._empty, alias), retry=True)
        else:
            if read_only:
                readonly.begin(connections[alias])
            atomic = transaction.atomic(using=alias)
            atomic.__enter__()
            self.rollback[alias] = atomic
            self._undo.callback(self._step, f"rolling back {alias!r}", alias,
                                functools.partial(self._roll_back, alias, atomic))
            if read_only:
                readonly.began(connections[alias])
            self._share(alias)
        for hook in self.on_open:
            hook(alias)

    def _open_mirror(self, alias: str, primary: str, commit: bool) -> None:
        """A mirror reads its primary's test database: in rollback mode through the primary's own connection
        (so it sees the test's rows, in every thread); committing, through a connection of its own."""
        self.open(primary, commit)
        self.guard.allow([alias])
        if primary in self.rollback:
            self._shared[alias] = connections[primary]
            self._share_storage()
        for hook in self.on_open:
            hook(alias)

    def defer(self, description: str, step: Callable[[], None]) -> None:
        """Run ``step`` after the test, once its aliases' transactions have ended (undo a swap, drop a table)."""
        self._late.callback(self._step, description, None, step)

    def _roll_back(self, alias: str, atomic: transaction.Atomic) -> None:
        transaction.set_rollback(True, using=alias)
        atomic.__exit__(None, None, None)

    def _empty(self, alias: str) -> None:
        with self.guard.opened([alias]):
            empty_written_tables(alias, self.reset_sequences, self.baselines.get(alias))
            if alias in self.post_migrate:  # what Django's flush does after emptying (its handlers re-run)
                emit_post_migrate_signal(verbosity=0, interactive=False, db=alias)

    def _share(self, alias: str) -> None:
        conn = connections[alias]
        conn.inc_thread_sharing()
        conn.close = _closed_by_owner_only(conn)  # type: ignore[method-assign]
        conn._prepare_cursor = _locked_cursors(conn, ConnectionLock(alias), self._seen)  # type: ignore[method-assign]
        self._shared[alias] = conn
        self._undo.callback(self._step, f"ending the sharing of {alias!r}", None,
                            functools.partial(self._unshare, conn))
        self._share_storage()

    def _share_storage(self) -> None:
        """From now on every thread gets the shared connections (``SharedConnections``), until the test ends."""
        if self._storage is None:
            self._storage = connections._connections
            connections._connections = SharedConnections(self._storage, self._shared)
            self._undo.callback(setattr, connections, "_connections", self._storage)

    @staticmethod
    def _unshare(conn: BaseDatabaseWrapper) -> None:
        conn.__dict__.pop("close", None)
        conn.__dict__.pop("_prepare_cursor", None)
        conn.dec_thread_sharing()

    def _step(self, description: str, alias: str | None, step: Callable[[], None], retry: bool = False) -> None:
        """Run one undo; a failure is reported, and a connection it broke is replaced (then tried again)."""
        try:
            step()
            return
        except Exception as error:
            if alias is None:
                self._problems.append(f"{self.test_id}: {description} failed: {_first_line(error)}")
                return
            failure = error
        said = alias in self.broken
        diagnosis = self._replace_connection(alias, failure)
        if said:
            return
        if diagnosis is None and retry:
            try:
                step()
                return
            except Exception as error:
                failure = error
        self._problems.append(diagnosis or f"{self.test_id}: {description} failed: {_first_line(failure)}")

    def _replace_connection(self, alias: str, error: BaseException) -> str | None:
        """Close the alias's connection (it may be broken) and give the next user a fresh one."""
        with suppress(Exception):
            connections[alias].close()
        connections[alias] = connections.create_connection(alias)
        return self.diagnose(alias, error)

    def close(self) -> list[str]:
        """Roll back, empty what was committed, undo swaps, stop sharing. Returns the problems met, one line each."""
        self._step("checking the test's threads", None, lambda: self._problems.extend(self._leftover_threads()))
        self._undo.close()
        return self._problems

    def _close_connections_of_threads(self) -> None:
        """Close the connections that finished threads opened on committing aliases (Django leaves them open,
        which keeps a server from dropping the test database); report threads of the test still running."""
        if not self.committing:
            return
        connection_created.disconnect(dispatch_uid=id(self))
        executors = _executors()
        for thread, conn in self._opened_elsewhere:
            if thread in executors:
                self._close_in_executor(executors[thread], thread, conn)
                continue
            if thread in self._workers:  # an idle worker of an event loop's executor (thread_sensitive=False)
                _close_from_here(conn)
                continue
            if thread.is_alive():
                if thread not in self._threads_before and conn.connection is not None:
                    self._problems.append(
                        f"thread {thread.name!r} started by {self.test_id} still holds a database connection "
                        f"({conn.alias}) after the test; join it before the test ends"
                    )
                continue
            _close_from_here(conn)

    def _close_in_executor(self, executor: Executor, thread: threading.Thread, conn: BaseDatabaseWrapper) -> None:
        """Close a connection that an asgiref executor thread opened, in that thread, after its pending work."""
        try:
            executor.submit(conn.close).result(LOCK_TIMEOUT)
        except FutureTimeout:
            self._problems.append(
                f"asgiref's executor thread {thread.name!r} was still busy {LOCK_TIMEOUT:.0f} s after "
                f"{self.test_id} ended, holding a database connection ({conn.alias}); await every "
                "sync_to_async call before the test ends"
            )
        except RuntimeError:  # the executor was shut down (interpreter exit): close from here
            _close_from_here(conn)
        except Exception:  # a broken connection is as good as closed
            pass

    def _leftover_threads(self) -> list[str]:
        ignored = self._threads_before | set(_executors()) | self._workers
        alive = [t for t in threading.enumerate() if t not in ignored and t.is_alive()]
        using = [t for t in alive if t.ident in self._users]
        return [
            f"thread {t.name!r} started by {self.test_id} still holds the test's database connection "
            f"({', '.join(self.rollback)}) after the test; join it before the test ends"
            for t in using
        ]


def reset_sequences(alias: str, keep: Iterable[str] = (), extra: Iterable[str] = ()) -> None:
    """Restart the sequences of the tables on ``alias`` (but ``keep``: tables holding install-time rows), so
    that a test's first row in each gets id 1. ``extra``: tables of unmanaged models made by the install."""
    conn = connections[alias]
    if not conn.features.supports_sequence_reset:
        return
    keep, extra = set(keep), set(extra)
    unmanaged = [m for m in apps.get_models() if not m._meta.managed and m._meta.db_table in extra]
    sequences = [s for s in [*conn.introspection.sequence_list(), *SchemaBuilder(alias, unmanaged).sequences()]
                 if s["table"] not in keep]
    statements = conn.ops.sequence_reset_by_name_sql(no_style(), sequences)
    if statements:
        with transaction.atomic(using=alias), conn.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
