"""``atomic()``: one transaction over several connections, committed or rolled back together.

Each alias gets Django's own ``transaction.atomic(using=alias)``: a transaction, or a savepoint when the alias is
already in one, so nesting, ``savepoint=``, ``set_rollback()`` and ``on_commit()`` keep their Django meaning.
This module adds what Django has no notion of: entering those blocks for several aliases (the listed ones, or
each alias on its first use: ``first_use``), leaving them in a fixed order, naming what a half-failed commit left
behind, and two-phase commit (PostgreSQL ``PREPARE TRANSACTION``, MySQL/MariaDB XA: each alias's steps in
``two_phase``).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import ContextDecorator
from typing import Any, TypeVar, overload

from django.db import DatabaseError

from .db import check_alias
from .first_use import close_block, open_block
from .messages import described
from .messages import layer as texts
from .two_phase import Branch

__all__ = ["InDoubtTransactionError", "MultiAtomic", "PartialCommitError", "atomic"]

F = TypeVar("F", bound=Callable[..., Any])


def _names(aliases: Iterable[str]) -> str:
    return ", ".join(repr(alias) for alias in aliases) or "none"


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
        super().__init__(texts.PARTIAL_COMMIT.format(committed=_names(committed), failed=failed,
                                                     error=described(error), rolled_back=_names(rolled_back)))


class InDoubtTransactionError(DatabaseError):
    """Two-phase commit left prepared transactions behind: they hold their locks until someone finishes them.

    ``action`` is what they must be finished with (``"commit"``: every database had prepared; ``"rollback"``:
    one had failed to). ``gids`` maps each alias left behind to its global transaction id, ``resolve`` to the
    statement that finishes it on that database; ``committed`` lists the aliases that did commit. The failure
    is the ``__cause__``.
    """

    def __init__(self, action: str, committed: Sequence[str], branches: Sequence[Branch], error: Exception) -> None:
        self.action, self.committed = action, tuple(committed)
        self.gids = {branch.alias: branch.gid for branch in branches}
        self.resolve = {branch.alias: branch.resolve_sql(action) for branch in branches}
        steps = "; ".join(texts.RESOLVE_STEP.format(alias=alias, sql=sql) for alias, sql in self.resolve.items())
        what = {"commit": texts.IN_DOUBT_COMMITTING, "rollback": texts.IN_DOUBT_ROLLING_BACK}
        super().__init__(texts.IN_DOUBT.format(what=what[action], aliases=_names(self.gids), error=described(error),
                                               steps=steps, committed=_names(committed)))


class _Transaction:
    """One entry into an ``atomic()`` block: its per-alias branches, in commit order."""

    def __init__(self, aliases: Sequence[str] | None, two_phase: bool, savepoint: bool) -> None:
        self.aliases = None if aliases is None else list(dict.fromkeys(str(check_alias(a)) for a in aliases))
        self.two_phase, self.savepoint = two_phase, savepoint
        self.token = f"multidb-{uuid.uuid4().hex}"
        self.branches: dict[str, Branch] = {}

    def enter(self) -> None:
        if self.aliases is None:
            open_block(self)
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
        branch = Branch(alias, self.savepoint, gid if self.two_phase else None)
        branch.enter()
        self.branches[alias] = branch

    def exit(self, error: BaseException | None) -> None:
        if self.aliases is None:
            close_block(self)
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

    def _commit(self, branches: list[Branch]) -> None:
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

    def _commit_two_phase(self, branches: list[Branch]) -> None:
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

    def _roll_back(self, branches: list[Branch], error: BaseException | None) -> None:
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
