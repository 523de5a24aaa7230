"""pytest-django's ``django_db_blocker``, mapped onto pytest-multidb's access guard (``guard.AccessGuard``)."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..run import MultiDB


class _Restore:
    """What ``unblock()`` / ``block()`` return: usable as a context manager, which restores on exit."""

    def __init__(self, blocker: DjangoDbBlocker) -> None:
        self._blocker = blocker

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._blocker.restore()


class DjangoDbBlocker:
    """pytest-django's ``django_db_blocker``, mapped onto pytest-multidb's access guard.

    ``unblock()`` lets the code that follows use every alias provisioned so far (the test databases; an
    alias not provisioned stays blocked: it still points at a configured database); ``block()`` blocks every
    alias; ``restore()`` undoes the last of them. Both are context managers too.
    """

    def __init__(self, run: MultiDB) -> None:
        self._run = run
        self._history: list[frozenset[str]] = []

    def _push(self, allowed: frozenset[str]) -> _Restore:
        guard = self._run.guard
        self._history.append(guard.allowed)
        guard.allowed = allowed
        return _Restore(self)

    def unblock(self) -> _Restore:
        """Allow database access: every alias provisioned so far."""
        session = self._run.session
        return self._push(self._run.guard.allowed | frozenset(session.provisioned if session else ()))

    def block(self) -> _Restore:
        """Block every database alias."""
        return self._push(frozenset())

    def restore(self) -> None:
        """Undo the last ``block()`` or ``unblock()``."""
        self._run.guard.allowed = self._history.pop()

    @property
    def is_active(self) -> bool:
        """Whether a ``block()`` or ``unblock()`` is in effect."""
        return bool(self._history)
