"""Schemas built in forked worker processes at once: a cold start costs the slowest alias, not their sum.

``migrate`` mutates the app registry, so two builds cannot share a process (threads are unsafe). When two or more
aliases of one ``DatabaseSession.ensure`` miss the schema cache, each but the first is built in a child process
forked from the run (``multiprocessing``'s "fork" context, started when the builds start): the child *is* the run's
Django as it stands, settings made in a module or by ``settings.configure()``, what conftests changed and the
``post_migrate`` handlers they connected, so it builds exactly what the run would build, with no interpreter or
Django start-up to pay. It lets go of the connections it inherited without closing them (closing would end the
run's own sessions on the servers), fills the schema cache as the run does (under the cache's file lock) and sends
back what it did, or the error in one line. The run builds the first alias meanwhile.

Where fork is not safe (anything but Linux: macOS's system libraries, Windows has none) the schemas are built in
the run's process, one after another. Aliases with ``TEST["DEPENDENCIES"]`` on another alias being built wait for
it: builds go in waves.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from .conf import DatabaseSpec
from .guard import refused_alias
from .messages import described

#: Connections a forked child inherited from the run: kept referenced until the child exits (``os._exit``), so that
#: no finaliser of a driver closes them (a closed libpq or MySQL connection tells the server: the run's session ends).
_INHERITED: list[Any] = []


@dataclass(frozen=True)
class Built:
    """What a worker did: ``schema`` (``built`` or ``cached``), the cache's new lines, its pid and wall-clock window,
    or ``error`` (one line) and, when the access guard refused the build another alias, ``touched``: that alias."""

    alias: str
    schema: str = ""
    lines: tuple[str, ...] = ()
    pid: int = 0
    started: float = 0.0
    ended: float = 0.0
    error: str | None = None
    touched: str = ""


def can_fork() -> bool:
    """Whether builds may run in forked children here (Linux); elsewhere they run in the run's process."""
    return sys.platform.startswith("linux")


def waves(aliases: Iterable[str], specs: Mapping[str, DatabaseSpec]) -> list[list[str]]:
    """``aliases`` in groups built at once, each alias after the ones of its ``TEST["DEPENDENCIES"]`` among them.

    The implicit dependency on ``default`` (Django's runner orders by it) orders nothing here: while a schema is
    installed no other alias can be opened (the access guard). A build that touches another alias all the same
    (a data migration or a ``post_migrate`` handler using ``default``) is made again after it
    (``schema_install.InstallTouched``).
    """
    pending, found = list(dict.fromkeys(aliases)), []
    while pending:
        wave = [a for a in pending if not set(specs[a].test.get("DEPENDENCIES") or ()) & (set(pending) - {a})]
        wave = wave or pending[:1]  # a cycle was refused when the order was made: never met here
        found.append(wave)
        pending = [a for a in pending if a not in wave]
    return found


@contextmanager
def building(builds: Mapping[str, Callable[[], Built]]) -> Iterator[Callable[[], list[Built]]]:
    """Run each of ``builds`` (alias -> what builds it, returning ``Built``) in a child forked from this process,
    all at once; yields ``results()``, which waits for them all (in ``builds``' order). On the way out every child
    has ended (its test database is no longer used), whatever happened."""
    fork = get_context("fork")
    children: list[tuple[str, Any, Connection]] = []
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with other threads forks: a lock another thread holds stays held in
        # the child. The child only runs the build: Django's migrate and the schema cache, which take no lock of
        # another thread's (pytest-xdist's and the provisioning pool's threads are idle, or in other code).
        warnings.simplefilter("ignore", DeprecationWarning)
        for alias, build in builds.items():
            receiving, sending = fork.Pipe(duplex=False)
            child = fork.Process(target=_child, args=(alias, build, sending), name=f"multidb-build-{alias}",
                                 daemon=True)
            child.start()
            sending.close()
            children.append((alias, child, receiving))
    found: list[Built] | None = None

    def results() -> list[Built]:
        nonlocal found
        if found is None:
            found = [_result(alias, child, receiving) for alias, child, receiving in children]
        return found

    try:
        yield results
    finally:
        results()


def _result(alias: str, child: Any, receiving: Connection) -> Built:
    """What ``child`` sent, once it has ended; a child that died before it could send: its exit code."""
    try:
        built = receiving.recv()
    except EOFError:
        built = None
    finally:
        receiving.close()
        child.join()
    return built or Built(alias, pid=child.pid or 0,
                          error=f"its worker process ended without a result (exit code {child.exitcode})")


def _child(alias: str, build: Callable[[], Built], sending: Connection) -> None:
    """In the forked child: drop the inherited connections unclosed, build in a thread of its own, send the result.

    The thread is for speed: its frames start at the bottom of a new stack instead of under the run's pytest
    frames. CPython 3.11+ keeps frames in 16 KiB chunks and unmaps one as soon as the stack drops back below it;
    ``migrate``'s hot calls crossing a chunk's border under the run's stack mapped and unmapped one on every call
    (measured: ~37,000 ``mmap``/``munmap`` pairs per child, a quarter of its CPU; none on a fresh stack).
    """
    from asgiref.local import Local
    from django.db import connections

    _INHERITED.append(connections._connections)  # Django's per-thread connections; no public way to drop them
    connections._connections = Local(connections.thread_critical)
    found: list[Built] = []
    thread = threading.Thread(target=lambda: found.append(_built(alias, build)), name=f"multidb-build-{alias}")
    thread.start()
    thread.join()
    sending.send(found[0] if found else Built(alias, pid=os.getpid(), error="its build thread ended without a result"))
    sending.close()


def _built(alias: str, build: Callable[[], Built]) -> Built:
    """``build()``, or its error in one line; this thread's connections closed after it."""
    from django.db import connections

    started = time.time()
    try:
        return build()
    except BaseException as error:  # everything, KeyboardInterrupt too, goes back to the run as one line
        return Built(alias, pid=os.getpid(), started=started, ended=time.time(), error=described(error),
                     touched=refused_alias(error))
    finally:
        with suppress(Exception):  # what was built is sent even if a connection does not close cleanly
            connections.close_all()
