"""Thread sharing: the test's own connection of a rollback alias, used by every thread the test starts.

Django's ``LiveServerThread`` does this per thread with ``connections_override``; here it covers any thread the
test starts (a live server, Django's test client in a thread, ``sync_to_async``), so they see the test's
uncommitted rows. One lock per connection is held for a cursor's whole life, a thread other than the test's
cannot close it, and after the test the connections other threads opened on committing aliases are closed and
threads still holding the test's connection are reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from .messages import isolation as texts

#: How long a thread waits for the thread-shared connection before it is told who holds it.
LOCK_TIMEOUT = 30.0


class ThreadSharingStorage:
    """Connection storage that hands every thread the test's own connection for the thread-shared aliases.

    Other aliases keep Django's per-thread storage.
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


class ConnectionLock:
    """Who may use a thread-shared connection now: one thread at a time, re-entrant, from a cursor's creation to
    its close.

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
            if self.owner is None or self.owner is me:  # free, or this thread's already: no waiting
                self.owner, self.depth = me, self.depth + 1
                return
            if not self._free.wait_for(lambda: self.owner in (None, me), LOCK_TIMEOUT):
                holder = self.owner.name if self.owner else "?"
                raise TimeoutError(texts.CURSOR_HELD.format(thread=me.name, timeout=LOCK_TIMEOUT, alias=self.alias,
                                                            holder=holder))
            self.owner, self.depth = me, self.depth + 1

    def release(self) -> None:
        with self._free:
            self.depth -= 1
            if self.depth == 0:
                self.owner = None
                self._free.notify_all()


def _locked_cursors(conn: BaseDatabaseWrapper, lock: ConnectionLock, seen: Callable[[], None]) -> Callable[..., Any]:
    """A ``_prepare_cursor`` for a thread-shared connection: each cursor holds ``lock`` from creation to close;
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
    """A ``close`` for a thread-shared connection that only the test's own thread can use.

    Other threads close "their" connections as a matter of course: Django's request handling
    (``close_old_connections`` closes a connection in a transaction) and ``LiveServerThread`` /
    ``ThreadedWSGIServer`` (``connections.close_all()`` after each request and at shutdown). On the thread-shared
    connection that would end the test's transaction and lose its rows.
    """
    original, owner = conn.close, threading.get_ident()

    def close() -> None:
        if threading.get_ident() == owner:
            original()

    return close


def _end_thread_sharing(conn: BaseDatabaseWrapper) -> None:
    conn.__dict__.pop("close", None)
    conn.__dict__.pop("_prepare_cursor", None)
    conn.dec_thread_sharing()


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


class ThreadSharing:
    """One test's thread sharing: its connections handed to every thread, and the threads it started.

    Made in the test's own thread when the test starts. Problems found after the test go to ``problems`` (the
    test's report lines), one line each.
    """

    def __init__(self, test_id: str, problems: list[str]) -> None:
        self.test_id, self.problems = test_id, problems
        self._shared: dict[str, BaseDatabaseWrapper] = {}
        self._users: set[int] = set()
        #: Threads seen running ``sync_to_async`` work (asgiref's executors, an event loop's default executor).
        self._workers: set[threading.Thread] = set()
        self._threads_before = set(threading.enumerate())
        self._storage: Any = None
        #: Committing aliases: the connections other threads open on them are closed after the test.
        self._watched: set[str] = set()
        #: Connections that other threads opened on committing aliases during the test.
        self._opened_elsewhere: list[tuple[threading.Thread, BaseDatabaseWrapper]] = []
        self._owner = threading.get_ident()

    def __contains__(self, alias: object) -> bool:
        return alias in self._shared

    def share(self, alias: str) -> Callable[[], None]:
        """Hand the test's connection of ``alias`` to every thread (once ``storage`` is in place); returns the
        step that ends its thread sharing."""
        conn = connections[alias]
        conn.inc_thread_sharing()
        conn.close = _closed_by_owner_only(conn)  # type: ignore[method-assign]
        conn._prepare_cursor = _locked_cursors(conn, ConnectionLock(alias), self._seen)  # type: ignore[method-assign]
        self._shared[alias] = conn
        return lambda: _end_thread_sharing(conn)

    def share_as(self, alias: str, primary: str) -> None:
        """Hand every thread the test's connection of ``primary`` for ``alias`` too (a mirror reads through it)."""
        self._shared[alias] = connections[primary]

    def storage(self) -> Callable[[], None] | None:
        """From now on every thread gets the thread-shared connections (``ThreadSharingStorage``); returns the
        step that puts Django's storage back, the first time only."""
        if self._storage is not None:
            return None
        self._storage = connections._connections
        connections._connections = ThreadSharingStorage(self._storage, self._shared)
        return lambda: setattr(connections, "_connections", self._storage)

    def watch(self, alias: str) -> None:
        """Note the connections other threads open on the committing ``alias`` (closed after the test)."""
        if not self._watched:
            connection_created.connect(self._connection_created, weak=False, dispatch_uid=id(self))
        self._watched.add(alias)

    def _connection_created(self, sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if connection.alias in self._watched and threading.get_ident() != self._owner:
            self._opened_elsewhere.append((threading.current_thread(), connection))
            self._note_worker()

    def _seen(self) -> None:
        """A thread made a cursor on a thread-shared connection (the test's own thread: nothing to note, it is
        neither a thread the test started nor a ``sync_to_async`` worker)."""
        ident = threading.get_ident()
        if ident == self._owner:
            return
        self._users.add(ident)
        self._note_worker()

    def _note_worker(self) -> None:
        if _runs_sync_to_async():
            self._workers.add(threading.current_thread())

    def close_connections_of_threads(self) -> None:
        """Close the connections that finished threads opened on committing aliases (Django leaves them open,
        which keeps a server from dropping the test database); report threads of the test still running."""
        if not self._watched:
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
                    self.problems.append(texts.THREAD_HOLDS_CONNECTION.format(thread=thread.name, test=self.test_id,
                                                                              alias=conn.alias))
                continue
            _close_from_here(conn)

    def _close_in_executor(self, executor: Executor, thread: threading.Thread, conn: BaseDatabaseWrapper) -> None:
        """Close a connection that an asgiref executor thread opened, in that thread, after its pending work."""
        try:
            executor.submit(conn.close).result(LOCK_TIMEOUT)
        except FutureTimeout:
            self.problems.append(texts.EXECUTOR_BUSY.format(thread=thread.name, timeout=LOCK_TIMEOUT, test=self.test_id,
                                                            alias=conn.alias))
        except RuntimeError:  # the executor was shut down (interpreter exit): close from here
            _close_from_here(conn)
        except Exception:  # a broken connection is as good as closed
            pass

    def leftover_threads(self, aliases: Iterable[str]) -> list[str]:
        """A line per thread of the test still running that used the test's connection (of ``aliases``)."""
        ignored = self._threads_before | set(_executors()) | self._workers
        alive = [t for t in threading.enumerate() if t not in ignored and t.is_alive()]
        using = [t for t in alive if t.ident in self._users]
        return [texts.THREAD_HOLDS_TEST_CONNECTION.format(thread=t.name, test=self.test_id, aliases=", ".join(aliases))
                for t in using]
