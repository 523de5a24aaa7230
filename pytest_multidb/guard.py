"""The access guard: a test (or code outside any test) touching a database alias it did not declare fails."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import (
    NO_DB_ALIAS,  # the maintenance connection of creation code
    BaseDatabaseWrapper,
)

from .messages import layer as texts


def copied_alias(wrapper: BaseDatabaseWrapper,
                 configured: Mapping[str, tuple[Any, ...]] | None = None) -> str | None:
    """The configured alias ``wrapper`` stands for: its own, or for a copy under another name
    (``connection.copy("name")``, ``connections.create_connection``) the alias whose database it opens, the test
    database or the one the settings name; ``None`` for a connection to no configured database, which Django's
    guard does not block either (an alias added to ``connections`` at run time, as django-dynamic-db-router's
    ``in_database`` adds one). ``configured``: each configured alias's database as the settings name it
    (``database_of``); by default every alias of ``connections`` now."""
    from django.db import connections

    if configured is None:
        configured = {alias: database_of(connections.settings[alias]) for alias in connections.settings}
    if wrapper.alias in configured:
        return wrapper.alias
    own = database_of(wrapper.settings_dict)
    return next((alias for alias in configured if own == configured[alias]
                 or own == database_of(connections.settings.get(alias, {}))), None)


def database_of(settings: Mapping[str, Any]) -> tuple[Any, ...]:
    """Which database the connection settings ``settings`` open (``DATABASE_KEYS``)."""
    return tuple(settings.get(key) for key in DATABASE_KEYS)


#: The settings that say which database a connection opens.
DATABASE_KEYS = ("ENGINE", "NAME", "HOST", "PORT")


class DatabaseAccessError(RuntimeError):
    """A test touched a database alias it did not declare (``alias``)."""

    def __init__(self, message: str, alias: str = "") -> None:
        super().__init__(message)
        self.alias = alias


def refused_alias(error: BaseException) -> str:
    """The alias the access guard refused where ``error`` (or an exception it was raised from) came from; ``""``
    when it did not."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, DatabaseAccessError):
            return current.alias
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return ""


#: Set on a connection object while Django's housekeeping (``close_if_unusable_or_obsolete``) runs on it.
_HOUSEKEEPING = "_multidb_housekeeping"


class AccessGuard:
    """Blocks every connection of an alias that the running test did not declare.

    Django's own guard (``SimpleTestCase.databases``) patches methods of the connection objects of the
    current thread, so it misses other threads, ``atomic(using=...)`` on an open connection and raw
    cursors of connections opened earlier. Every one of those passes through ``ensure_connection``, so the
    check sits there, once, for all threads. ORM query code is not touched.

    What Django's guard lets through is let through here too: its connection housekeeping
    (``close_old_connections()``, called at a request's start and end and by code such as the mod_wsgi
    ``check_password``) reads the state of every open connection and closes the obsolete ones; on a connection
    already open it neither connects nor queries, so it is not a test's use of the alias.
    """

    def __init__(self) -> None:
        self.active = False
        self.allowed: frozenset[str] = frozenset()
        self.test_id = ""
        self.declared: tuple[str, ...] = ()
        #: A Django test class running now (``databases`` is its declaration): its name and aliases.
        self.test_class = ""
        self.class_aliases: tuple[str, ...] = ()
        #: The aliases of the settings and the databases they name (``configure``); an alias added at run time
        #: is none of them.
        self.configured: dict[str, tuple[Any, ...]] | None = None
        self._original: Callable[..., Any] | None = None
        self._original_housekeeping: Callable[..., Any] | None = None

    def install(self) -> None:
        if self._original is not None:
            return
        original = self._original = BaseDatabaseWrapper.ensure_connection
        housekeeping = self._original_housekeeping = BaseDatabaseWrapper.close_if_unusable_or_obsolete
        guard = self

        def ensure_connection(wrapper: BaseDatabaseWrapper) -> None:
            if (guard.active and wrapper.alias not in guard.allowed and wrapper.alias != NO_DB_ALIAS
                    and not (wrapper.connection is not None and wrapper.__dict__.get(_HOUSEKEEPING))):
                alias = copied_alias(wrapper, guard.configured)
                if alias is not None and alias not in guard.allowed:
                    raise DatabaseAccessError(guard.message(alias), alias)
            original(wrapper)

        def close_if_unusable_or_obsolete(wrapper: BaseDatabaseWrapper) -> None:
            wrapper.__dict__[_HOUSEKEEPING] = True
            try:
                housekeeping(wrapper)
            finally:
                wrapper.__dict__.pop(_HOUSEKEEPING, None)

        ensure_connection.__wrapped__ = original  # type: ignore[attr-defined]
        close_if_unusable_or_obsolete.__wrapped__ = housekeeping  # type: ignore[attr-defined]
        BaseDatabaseWrapper.ensure_connection = ensure_connection  # type: ignore[method-assign]
        BaseDatabaseWrapper.close_if_unusable_or_obsolete = close_if_unusable_or_obsolete  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            BaseDatabaseWrapper.ensure_connection = self._original  # type: ignore[method-assign]
            BaseDatabaseWrapper.close_if_unusable_or_obsolete = self._original_housekeeping  # type: ignore[method-assign]
            self._original = self._original_housekeeping = None

    def message(self, alias: str) -> str:
        if self.test_class:
            declared = ", ".join(repr(a) for a in self.class_aliases) or texts.NOTHING_DECLARED
            return texts.UNDECLARED_BY_CLASS.format(test=self.test_id or self.test_class, alias=alias,
                                                    declared=declared, test_class=self.test_class)
        who = self.test_id or texts.OUTSIDE_A_TEST
        wanted = ", ".join(repr(a) for a in (*self.declared, alias))
        if not self.declared:
            return texts.UNDECLARED_ANY.format(who=who, alias=alias, wanted=wanted)
        return texts.UNDECLARED.format(who=who, alias=alias, declared=", ".join(self.declared), wanted=wanted)

    def start_test(self, test_id: str) -> None:
        self.test_id, self.declared, self.allowed = test_id, self.class_aliases, frozenset(self.class_aliases)

    def allow(self, aliases: Iterable[str]) -> None:
        new = [a for a in aliases if a not in self.declared]
        self.declared = (*self.declared, *new)
        self.allowed = self.allowed | set(new)

    def end_test(self) -> None:
        self.test_id, self.declared, self.allowed = "", self.class_aliases, frozenset(self.class_aliases)

    @contextmanager
    def django_class(self, name: str, aliases: Iterable[str]) -> Iterator[None]:
        """While a Django test class runs (``setUpClass`` to ``tearDownClass``): its ``databases`` are allowed."""
        self.test_class, self.class_aliases = name, tuple(aliases)
        self.declared, self.allowed = self.class_aliases, frozenset(self.class_aliases)
        try:
            yield
        finally:
            self.test_class, self.class_aliases = "", ()
            self.declared, self.allowed = (), frozenset()

    @contextmanager
    def opened(self, aliases: Iterable[str]) -> Iterator[None]:
        """Let the plugin itself use ``aliases`` (provisioning, schema, emptying tables)."""
        saved = self.allowed
        self.allowed = saved | set(aliases)
        try:
            yield
        finally:
            self.allowed = saved
