"""One alias of an ``atomic()`` block: Django's atomic block for it, and two-phase commit (PostgreSQL
``PREPARE TRANSACTION``, MySQL/MariaDB XA) when the block asks for it.

The block (``transaction.py``) decides the order and the outcome; a branch knows how to enter, prepare, commit
and roll back its one alias, and the statement that finishes a prepared transaction by hand.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, NotSupportedError, transaction
from django.db import connections as django_connections

from .messages import layer as texts

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


def check_two_phase(alias: str, connection: BaseDatabaseWrapper) -> None:
    """Raise ``NotSupportedError``, naming the alias, if ``connection`` cannot take part in two-phase commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_prepared_transactions")
            (setting,) = cursor.fetchone()
        if int(setting) == 0:
            raise NotSupportedError(texts.NO_PREPARED_TRANSACTIONS.format(alias=alias))
    elif connection.vendor != "mysql":
        raise NotSupportedError(texts.NO_TWO_PHASE.format(alias=alias, backend=connection.display_name))


class Branch:
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
            check_two_phase(self.alias, self.connection)
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
            # Set on_commit() callbacks aside: they run once every database has committed (the block's exit).
            self.hooks, self.connection.run_on_commit = self.connection.run_on_commit, []
        self.atomic.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)

    def _sql(self, *statements: str) -> None:
        # The gid is made of [0-9a-z_-] only, so it is written as a literal: the statements take no parameters.
        with self.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement.format(gid=f"'{self.gid}'"))
