"""``atomic()`` without ``connections=``: each alias joins the implicit blocks of its thread on first use.

Django offers no hook before an atomic block opens a transaction or before a connection's first query, so while
an implicit block is open ``Atomic.__enter__`` is wrapped and every alias gets an execute wrapper; an alias
enters every open implicit block of its thread, outermost first, and its wrapper is removed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db import connections as django_connections
from django.db.backends.signals import connection_created

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


class Block(Protocol):
    """An implicit ``atomic()`` block: it enters an alias's atomic block the first time the alias is used."""

    def enter_alias(self, alias: str) -> None: ...


class _ThreadState(threading.local):
    """The implicit ``atomic()`` blocks open in this thread (outermost first); Django connections are per thread."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.opened: dict[str, Any] = {}  # alias -> DB-API connection that Django has finished opening
        self.claiming = False


_thread = _ThreadState()
_install_lock = threading.Lock()
_django_atomic_enter: Any = None  # Django's Atomic.__enter__, once wrapped


def _claim(alias: str) -> None:
    """Enter ``alias`` in every implicit block of this thread, outermost first."""
    if _thread.claiming or not _thread.blocks:
        return
    _thread.claiming = True  # the blocks' own BEGIN / SAVEPOINT / XA START must not claim again
    try:
        for block in list(_thread.blocks):
            block.enter_alias(alias)
    finally:
        _thread.claiming = False
    _unhook(django_connections[alias])


def _claim_on_first_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict) -> Any:
    """Execute wrapper installed on every alias while an implicit block is open; removed once the alias joined."""
    connection = context["connection"]
    # What Django (and connection_created receivers) run while opening a connection runs outside the transaction,
    # as it does before transaction.atomic(): the connection joins from its first query after that.
    if _thread.opened.get(connection.alias) is connection.connection:
        _claim(connection.alias)
    return execute(sql, params, many, context)


def _atomic_enter(self: Any) -> None:
    # Django's atomic(using=X) inside an implicit block, before any query on X: the block must open X's
    # transaction first, so that this atomic becomes a savepoint in it instead of committing on its own.
    # Querysets do this too (delete(), bulk_create(), get_or_create(), ...).
    _claim(str(self.using or DEFAULT_DB_ALIAS))
    _django_atomic_enter(self)


def _connection_opened(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    # Receivers run in the order they were connected: those connected after this one (at the first implicit
    # block) run once the connection counts as opened, so their queries join the block.
    if _thread.blocks:
        _thread.opened[connection.alias] = connection.connection


def _install_first_use_hooks() -> None:
    """Route Django's atomic blocks and newly opened connections through implicit blocks (once per process).

    Django offers no hook before an atomic block opens a transaction, so ``Atomic.__enter__`` is wrapped; the
    wrapper costs one thread-local lookup when no implicit block is open.
    """
    global _django_atomic_enter
    with _install_lock:
        if _django_atomic_enter is None:
            _django_atomic_enter = transaction.Atomic.__enter__
            transaction.Atomic.__enter__ = _atomic_enter
            connection_created.connect(_connection_opened, dispatch_uid=__name__)


def _unhook(connection: BaseDatabaseWrapper) -> None:
    if _claim_on_first_query in connection.execute_wrappers:
        connection.execute_wrappers.remove(_claim_on_first_query)


def open_block(block: Block) -> None:
    """Open an implicit block: from now on every alias used in this thread enters it."""
    _install_first_use_hooks()
    if not _thread.blocks:
        _thread.opened = {conn.alias: conn.connection for conn in django_connections.all(initialized_only=True)}
    _thread.blocks.append(block)
    for alias in django_connections:
        wrappers = django_connections[alias].execute_wrappers  # Django's wrapper object; nothing connects
        if _claim_on_first_query not in wrappers:
            wrappers.append(_claim_on_first_query)


def close_block(block: Block) -> None:
    """Close an implicit block (the last one of the thread removes the execute wrappers)."""
    _thread.blocks.remove(block)
    if not _thread.blocks:
        _thread.opened = {}
        for connection in django_connections.all(initialized_only=True):
            _unhook(connection)
