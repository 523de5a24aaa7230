"""Django's test classes collected by pytest: a class's ``databases`` is its declaration.

Django's class machinery isolates them itself (``TestCase``'s class-wide atomics and per-test savepoints,
``setUpTestData``, ``fixtures``, ``TransactionTestCase``'s flush, ``serialized_rollback``): the plugin only
provisions the class's aliases and lets it use them from ``setUpClass`` to ``tearDownClass``; it never wraps
a Django test in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from .markers import Declaration


def django_test_class(item: pytest.Item | pytest.Node) -> type | None:
    """The Django test class (``SimpleTestCase`` or a subclass) ``item`` belongs to, if any."""
    cls = getattr(item, "cls", None)
    if cls is None:
        return None
    from django.test import SimpleTestCase

    return cls if issubclass(cls, SimpleTestCase) else None


def class_declaration(cls: type, known: Iterable[str]) -> Declaration | None:
    """``cls.databases`` as a declaration (``"__all__"``: every alias); ``None`` when it uses no database."""
    databases = cls.databases  # type: ignore[attr-defined]
    known = list(known)
    aliases = tuple(known) if databases == "__all__" else tuple(sorted(databases, key=_order(known)))
    if not aliases:
        return None
    return Declaration(aliases, (), False, source=f"{cls.__qualname__}.databases", django_class=True,
                       serialized_rollback=bool(getattr(cls, "serialized_rollback", False)))


def _order(known: list[str]):  # settings order first, unknown aliases last (reported by the caller)
    return lambda alias: (known.index(alias) if alias in known else len(known), alias)


@contextmanager
def unittest_run_as_django_does() -> Iterator[None]:
    """Run a Django test class's tests by calling the test case, as Django's runner (and pytest-django) do.

    pytest's ``TestCaseFunction.runtest`` sets the test method as an attribute of the instance first (for its
    debugger), which Django's runner never does: ``SimpleTestCase.__getstate__`` then recurses without end
    (a pickled test case, as ``ParallelTestSuite`` needs). pytest-django patches ``runtest`` the same way.
    """
    from _pytest.unittest import TestCaseFunction

    original = TestCaseFunction.runtest

    def runtest(self: TestCaseFunction) -> None:
        if self.config.getoption("usepdb", False) or self.config.getoption("trace", False):
            original(self)  # the debugger needs pytest's own way
        else:
            self._testcase(result=self)  # type: ignore[arg-type]

    TestCaseFunction.runtest = runtest  # type: ignore[method-assign]
    try:
        yield
    finally:
        TestCaseFunction.runtest = original  # type: ignore[method-assign]


def _in_memory() -> bool:
    return True


@contextmanager
def seen_in_memory(conn: Any) -> Iterator[None]:
    """While inside, the sqlite connection ``conn`` says it is on an in-memory database, as under Django's
    runner (``is_in_memory_db()``, and its creation's ``is_in_memory_db(name)`` for its test database's name):
    its ``close()`` does nothing, a ``LiveServerTestCase`` hands it to the server thread, the creation's clone
    settings and the backend's skips of Django's own suite are an in-memory one's."""
    creation, own = conn.creation, conn.settings_dict["NAME"]
    by_name = type(creation).is_in_memory_db
    conn.is_in_memory_db = _in_memory
    creation.is_in_memory_db = lambda name: name == own or by_name(name)
    try:
        yield
    finally:
        conn.__dict__.pop("is_in_memory_db", None)
        creation.__dict__.pop("is_in_memory_db", None)


@contextmanager
def close_ignored(conn: Any) -> Iterator[None]:
    """While inside, ``conn.close()`` does nothing (but check the thread), as Django's sqlite backend ignores it on an
    in-memory database: a pytest test of an alias Django would keep in memory may call ``close_old_connections()``
    inside its transaction (django-celery-beat's scheduler does) and go on querying, as under pytest-django."""
    conn.close = conn.validate_thread_sharing
    try:
        yield
    finally:
        conn.__dict__.pop("close", None)


@contextmanager
def connections_kept_open(aliases: Iterable[str]) -> Iterator[None]:
    """While a Django test class runs, the main thread's connection of each of ``aliases`` is open and is, to
    Django, on an in-memory database (``seen_in_memory``), as Django's in-memory sqlite test database is: a class
    can tell (``TransactionTestCase`` closes every connection after each test; a test that closes a raw
    connection it took for a thread's own; a live server shares it). ``aliases``: the sqlite aliases Django would
    give an in-memory one."""
    from django.db import connections

    with ExitStack() as stack:
        for alias in aliases:
            conn = connections[alias]
            forget_if_closed(conn)
            conn.ensure_connection()
            stack.enter_context(seen_in_memory(conn))
        yield


def forget_if_closed(conn: Any) -> None:
    """A sqlite connection whose driver connection was closed behind Django's back (a test closed a raw connection
    it shared, or a shallow copy of the wrapper) is forgotten, so that the next use opens a new one: one test's
    mishap does not fail every later test of the alias. Django's in-memory test database never meets this (its
    ``close()`` does nothing), a file does."""
    raw = conn.connection
    if raw is None or conn.vendor != "sqlite":
        return
    try:
        raw.total_changes  # noqa: B018 - raises once the driver connection is closed; runs no SQL
    except Exception:  # sqlite3.ProgrammingError: Cannot operate on a closed database
        conn.connection = None
        conn.in_atomic_block = False
        conn.savepoint_ids = []
        conn.needs_rollback = False
