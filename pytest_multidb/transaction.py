"""``atomic()``: one transaction over several connections, committed or rolled back together.

Each alias gets Django's own ``transaction.atomic(using=alias)``: a transaction, or a savepoint when the alias is
already in one, so nesting, ``savepoint=``, ``set_rollback()`` and ``on_commit()`` keep their Django meaning.
This module adds what Django has no notion of: entering those blocks for several aliases (the listed ones, or
each alias on its first use), leaving them in a fixed order, naming what a half-failed commit left behind, and
two-phase commit (PostgreSQL ``PREPARE TRANSACTION``, MySQL/MariaDB XA).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import ContextDecorator, suppress
from typing import TYPE_CHECKING, Any, TypeVar, overload

from django.db import DEFAULT_DB_ALIAS, DatabaseError, NotSupportedError, transaction
from django.db import connections as django_connections
from django.db.backends.signals import connection_created

from .db import check_alias

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["InDoubtTransactionError", "MultiAtomic", "PartialCommitError", "atomic"]

F = TypeVar("F", bound=Callable[..., Any])


def _names(aliases: Iterable[str]) -> str:
    return ", ".join(repr(alias) for alias in aliases) or "none"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


class PartialCommitError(DatabaseError):
    """A commit failed after other connections had committed (``two_phase=False``): the databases disagree.

    ``committed`` kept the block's changes; ``failed`` (whose commit failed, so Django rolled it back) and
    ``rolled_back`` did not. For an alias that was already in a transaction when the block began, "committed"
    means its savepoint was released into that transaction. The commit's own error is the ``__cause__``.

    A ``DatabaseError`` rather than a ``TransactionManagementError`` (Django's error for misusing the
    transaction API): like a failed commit on one database, it is a database failure the calling code could
    not prevent, and ``except DatabaseError`` around database work catches it.
    """

    def __init__(self, committed: Sequence[str], failed: str, rolled_back: Sequence[str], error: Exception) -> None:
        self.committed, self.failed, self.rolled_back = tuple(committed), failed, tuple(rolled_back)
        super().__init__(
            f"atomic(): partial commit. Committed: {_names(committed)}. Commit failed (rolled back): {failed!r} "
            f"({_first_line(error)}). Rolled back: {_names(rolled_back)}. The databases now disagree: "
            f"{_names(committed)} kept the block's changes, the others did not; repair them by hand. Use "
            "atomic(..., two_phase=True) (PostgreSQL, MySQL/MariaDB) so that a failed commit cannot leave some "
            "databases committed and others not."
        )


class InDoubtTransactionError(DatabaseError):
    """Two-phase commit left prepared transactions behind: they hold their locks until someone finishes them.

    ``action`` is what they must be finished with (``"commit"``: every database had prepared; ``"rollback"``:
    one had failed to). ``gids`` maps each alias left behind to its global transaction id, ``resolve`` to the
    statement that finishes it on that database; ``committed`` lists the aliases that did commit. The failure
    is the ``__cause__``.
    """

    def __init__(self, action: str, committed: Sequence[str], branches: Sequence[_Branch], error: Exception) -> None:
        self.action, self.committed = action, tuple(committed)
        self.gids = {branch.alias: branch.gid for branch in branches}
        self.resolve = {branch.alias: branch.resolve_sql(action) for branch in branches}
        steps = "; ".join(f"on {alias!r}: {sql}" for alias, sql in self.resolve.items())
        what = {"commit": "committing after every database prepared", "rollback": "rolling back after a failed prepare"}
        super().__init__(
            f"atomic(two_phase=True): {what[action]} failed on {_names(self.gids)} ({_first_line(error)}). "
            f"Their prepared transactions are left to resolve (they hold locks until then); run {steps}. "
            f"Committed: {_names(committed)}."
        )


def _check_two_phase(alias: str, connection: BaseDatabaseWrapper) -> None:
    """Raise ``NotSupportedError``, naming the alias, if ``connection`` cannot take part in two-phase commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_prepared_transactions")
            (setting,) = cursor.fetchone()
        if int(setting) == 0:
            raise NotSupportedError(
                f"atomic(two_phase=True): alias {alias!r} is a PostgreSQL server with max_prepared_transactions = 0, "
                "which disables PREPARE TRANSACTION. Set max_prepared_transactions above 0 (e.g. to "
                "max_connections) in postgresql.conf or with ALTER SYSTEM, and restart the server."
            )
    elif connection.vendor != "mysql":
        raise NotSupportedError(
            f"atomic(two_phase=True): alias {alias!r} is {connection.display_name}, which has no two-phase commit. "
            f"Keep {alias!r} out of two-phase blocks (name the others in connections=[...]) or use "
            "two_phase=False. Two-phase commit works on PostgreSQL and MySQL/MariaDB."
        )


class _Branch:
    """One alias of a block: Django's atomic block for it, and the two-phase steps when this level commits."""

    def __init__(self, alias: str, savepoint: bool, gid: str | None) -> None:
        self.alias = alias
        self.connection = django_connections[alias]
        self.vendor = self.connection.vendor
        self.atomic = transaction.atomic(using=alias, savepoint=savepoint)
        self.planned_gid = gid
        self.gid: str | None = None  # set when this branch commits in two phases
        self.owner = self.left = self.prepared = False
        self.hooks: list[Any] = []

    def enter(self) -> None:
        if self.planned_gid:
            _check_two_phase(self.alias, self.connection)
        self.atomic.__enter__()
        # Django's outermost level, the one that opened the transaction, is the only one that pushes no savepoint
        # id. Only that level commits; a nested one is a savepoint whose fate its enclosing transaction decides.
        self.owner = not self.connection.savepoint_ids
        if self.owner and self.planned_gid:
            self.gid = self.planned_gid
            if self.vendor == "mysql":
                try:
                    self._sql("XA START {gid}")
                except BaseException as error:
                    self._leave(error)
                    raise

    @property
    def doomed(self) -> bool:
        """Django will roll this level back on exit (``set_rollback(True)``, or the connection was closed)."""
        return transaction.get_rollback(using=self.alias)

    def prepare(self) -> None:
        """First phase: make the transaction durable without committing it (a nested level just ends)."""
        if self.gid is None:
            self._leave()
        elif self.vendor == "postgresql":
            self._sql("PREPARE TRANSACTION {gid}")
            self.prepared = True
            # The session is outside any transaction now: psycopg's commit() sends nothing in that state, so
            # leaving Django's block only turns autocommit back on, which COMMIT PREPARED needs.
            self._leave()
        else:
            self._sql("XA END {gid}", "XA PREPARE {gid}")
            self.prepared = True

    def commit(self) -> None:
        """Commit (second phase, or the only one), or release this level's savepoint."""
        if self.gid is None:
            if not self.left:
                self._leave()
        elif self.vendor == "postgresql":
            self._sql("COMMIT PREPARED {gid}")
        else:
            self._finish_xa("XA COMMIT {gid}", roll_back=False)

    def rollback(self, error: BaseException | None) -> None:
        """Roll back this level, prepared or not."""
        if self.gid is not None and self.vendor == "mysql":
            if not self.prepared:
                # An unprepared XA transaction also dies with its connection, which Django closes when its
                # own ROLLBACK fails: so these may fail.
                for statement in ("XA END {gid}", "XA ROLLBACK {gid}"):
                    with suppress(DatabaseError):
                        self._sql(statement)
                self._leave(error, roll_back=True)
            else:
                self._finish_xa("XA ROLLBACK {gid}", roll_back=True)
        elif self.prepared:  # PostgreSQL: Django's block was left at PREPARE TRANSACTION
            self._sql("ROLLBACK PREPARED {gid}")
        elif not self.left:
            self._leave(error, roll_back=True)

    def run_hooks(self) -> None:
        """Run the ``on_commit()`` callbacks set aside when this level committed."""
        if self.hooks:
            self.connection.run_on_commit, self.hooks = self.hooks, []
            self.connection.run_and_clear_commit_hooks()

    def resolve_sql(self, action: str) -> str:
        """The statement that finishes this branch's prepared transaction by hand (``commit`` or ``rollback``)."""
        verb = {"commit": "COMMIT", "rollback": "ROLLBACK"}[action]
        template = f"{verb} PREPARED {{gid}}" if self.vendor == "postgresql" else f"XA {verb} {{gid}}"
        return template.format(gid=f"'{self.gid}'")

    def _finish_xa(self, statement: str, roll_back: bool) -> None:
        # Django's block is left only after XA COMMIT / XA ROLLBACK: MySQL refuses the plain COMMIT/ROLLBACK
        # that leaving it sends while an XA transaction is open (XAER_RMFAIL), and they are no-ops after.
        try:
            self._sql(statement)
        except BaseException as error:
            self._leave(error)  # Django's ROLLBACK is refused too and it closes the connection; the XA stays
            raise
        self._leave(roll_back=roll_back)

    def _leave(self, error: BaseException | None = None, roll_back: bool = False) -> None:
        """Leave Django's atomic block: commit or release it, or roll it back on ``error`` / ``roll_back``."""
        self.left = True
        if error is None and roll_back:
            transaction.set_rollback(True, using=self.alias)
        elif error is None and self.owner:
            # Set on_commit() callbacks aside: they run once every database has committed (_Transaction.exit).
            self.hooks, self.connection.run_on_commit = self.connection.run_on_commit, []
        self.atomic.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)

    def _sql(self, *statements: str) -> None:
        # The gid is made of [0-9a-z_-] only, so it is written as a literal: the statements take no parameters.
        with self.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement.format(gid=f"'{self.gid}'"))


class _Transaction:
    """One entry into an ``atomic()`` block: its per-alias branches, in commit order."""

    def __init__(self, aliases: Sequence[str] | None, two_phase: bool, savepoint: bool) -> None:
        self.aliases = None if aliases is None else list(dict.fromkeys(str(check_alias(a)) for a in aliases))
        self.two_phase, self.savepoint = two_phase, savepoint
        self.token = f"multidb-{uuid.uuid4().hex}"
        self.branches: dict[str, _Branch] = {}

    def enter(self) -> None:
        if self.aliases is None:
            _open_lazy_block(self)
            return
        try:
            for alias in self.aliases:
                self.enter_alias(alias)
        except BaseException as error:
            self._roll_back(list(self.branches.values()), error)
            raise

    def enter_alias(self, alias: str) -> None:
        """Enter Django's atomic block for ``alias`` unless this block already did."""
        if alias in self.branches:
            return
        # XA ids are at most 64 bytes; the position keeps two aliases apart once trimmed.
        gid = re.sub(r"[^0-9a-z_-]", "_", f"{self.token}-{len(self.branches)}-{alias}".lower())[:64]
        branch = _Branch(alias, self.savepoint, gid if self.two_phase else None)
        branch.enter()
        self.branches[alias] = branch

    def exit(self, error: BaseException | None) -> None:
        if self.aliases is None:
            _close_lazy_block(self)
        branches = list(self.branches.values())
        if error is not None or any(branch.doomed for branch in branches):
            # One alias marked for rollback (set_rollback(True), a closed connection) rolls back all of them.
            self._roll_back(branches, error)
            return
        if self.two_phase:
            self._commit_two_phase(branches)
        else:
            self._commit(branches)
        for branch in branches:
            branch.run_hooks()

    def _commit(self, branches: list[_Branch]) -> None:
        for i, branch in enumerate(branches):
            try:
                branch.commit()
            except BaseException as error:
                rest = branches[i + 1 :]
                self._roll_back(rest, error)
                committed = [b.alias for b in branches[:i]]
                if committed and isinstance(error, Exception):
                    raise PartialCommitError(committed, branch.alias, [b.alias for b in rest], error) from error
                raise  # nothing committed: the same outcome as a failed commit of Django's atomic()

    def _commit_two_phase(self, branches: list[_Branch]) -> None:
        for branch in branches:
            try:
                branch.prepare()
            except BaseException as error:
                self._roll_back(branches, error)
                raise
        # Every branch is prepared: the outcome is commit. A branch that fails to commit stays prepared.
        committed, unresolved, failure = [], [], None
        for branch in branches:
            try:
                branch.commit()
            except Exception as error:
                unresolved.append(branch)
                failure = failure or error
            else:
                committed.append(branch.alias)
        if failure is not None:
            raise InDoubtTransactionError("commit", committed, unresolved, failure) from failure

    def _roll_back(self, branches: list[_Branch], error: BaseException | None) -> None:
        """Roll back every branch, even when one of them fails; report prepared ones left behind."""
        unresolved, failure = [], None
        for branch in reversed(branches):
            try:
                branch.rollback(error)
            except Exception as exc:
                if branch.prepared:
                    unresolved.append(branch)
                failure = failure or exc
        if unresolved:
            raise InDoubtTransactionError("rollback", [], unresolved, failure) from failure
        if failure is not None:
            raise failure


# -- implicit blocks: an alias joins on first use ------------------------------------------------------------


class _ThreadState(threading.local):
    """The implicit ``atomic()`` blocks open in this thread (outermost first); Django connections are per thread."""

    def __init__(self) -> None:
        self.blocks: list[_Transaction] = []
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


def _open_lazy_block(block: _Transaction) -> None:
    _install_first_use_hooks()
    if not _thread.blocks:
        _thread.opened = {conn.alias: conn.connection for conn in django_connections.all(initialized_only=True)}
    _thread.blocks.append(block)
    for alias in django_connections:
        wrappers = django_connections[alias].execute_wrappers  # Django's wrapper object; nothing connects
        if _claim_on_first_query not in wrappers:
            wrappers.append(_claim_on_first_query)


def _close_lazy_block(block: _Transaction) -> None:
    _thread.blocks.remove(block)
    if not _thread.blocks:
        _thread.opened = {}
        for connection in django_connections.all(initialized_only=True):
            _unhook(connection)


# -- public API ----------------------------------------------------------------------------------------------


class MultiAtomic(ContextDecorator):
    """What ``atomic()`` returns: a context manager and a decorator.

    The state of each entry lives on a per-thread stack, so one instance may be entered inside itself
    (recursion) and from several threads at once, as a decorator or in a ``with`` statement.
    """

    def __init__(self, connections: str | Iterable[str] | None, two_phase: bool, savepoint: bool) -> None:
        if isinstance(connections, str):
            connections = [connections]
        self.connections = None if connections is None else list(connections)
        self.two_phase, self.savepoint = two_phase, savepoint
        self._local = threading.local()

    def __enter__(self) -> None:
        entry = _Transaction(self.connections, self.two_phase, self.savepoint)
        entry.enter()
        self._entries().append(entry)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self._entries().pop().exit(exc)

    def _entries(self) -> list[_Transaction]:
        if not hasattr(self._local, "entries"):
            self._local.entries = []
        return self._local.entries


@overload
def atomic(connections: F) -> F: ...
@overload
def atomic(
    connections: str | Iterable[str] | None = None, *, two_phase: bool = False, savepoint: bool = True
) -> MultiAtomic: ...
def atomic(
    connections: str | Iterable[str] | Callable[..., Any] | None = None,
    *,
    two_phase: bool = False,
    savepoint: bool = True,
) -> Any:
    """Run a block in one transaction per connection, committed all together or rolled back all together.

    ``connections`` lists the aliases, in commit order; without it, every alias used inside the block takes
    part, in the order of first use (an alias never used is not even connected). Use it as ``with atomic():``,
    ``@atomic`` or ``@atomic(connections=[...])``; nested blocks become savepoints, as with Django's atomic().

    If a commit fails after others succeeded, :class:`PartialCommitError` names what committed. With
    ``two_phase=True`` (PostgreSQL, MySQL/MariaDB only) every database first prepares, so a failure rolls
    all of them back; a failure after all prepared raises :class:`InDoubtTransactionError` with the
    statements to finish by hand. ``on_commit()`` callbacks run once every database has committed.
    """
    if callable(connections):
        return MultiAtomic(None, two_phase, savepoint)(connections)
    return MultiAtomic(connections, two_phase, savepoint)
