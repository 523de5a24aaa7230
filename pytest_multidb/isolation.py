"""Per-test isolation: one transaction per declared alias, emptying, every undo run (thread sharing:
``thread_sharing``).

Hot path per test and alias: one ``atomic`` entered at setup and rolled back at teardown, and before the rollback
Django's deferred constraint check where the test sent something (``deferred_checks``). Nothing else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from contextlib import ExitStack, nullcontext, suppress
from dataclasses import dataclass, field

from django.apps import apps
from django.core.management.color import no_style
from django.core.management.sql import emit_post_migrate_signal
from django.db import connections, transaction

from . import held_autocommit, readonly
from .alias_state import AliasState
from .aliases import Aliases
from .deferred_checks import DeferredChecks
from .emptying import empty_written_tables, sequences_past_rows
from .guard import AccessGuard
from .messages import described
from .messages import isolation as texts
from .same_database import in_memory_under_django
from .schema import SchemaBuilder
from .testcases import close_ignored
from .thread_sharing import ThreadSharing


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
    #: The run's aliases: a ``TEST["MIRROR"]`` alias opens its primary and reads through it; a
    #: ``TEST["PROVISION"] = "existing"`` one gets READ ONLY transactions, never committing, never reset.
    configured: Aliases
    #: The session's per-alias state: baselines to put committing tests back to, servers known to be gone
    #: (their failures are not repeated).
    state: AliasState
    reset_sequences: bool = False
    #: MySQL/MariaDB: leave the driver's autocommit off after the test's rollback, for the next rollback test
    #: (``held_autocommit``); ``--multidb-autocommit-each-test``: not.
    hold_autocommit: bool = True
    rollback: dict[str, transaction.Atomic] = field(default_factory=dict)
    committing: list[str] = field(default_factory=list)
    #: Committing aliases that get ``post_migrate`` after their emptying, as Django's flush sends it (a
    #: ``django_db(transaction=True)`` test: ``compat/pytest_django.py``); ``uses_db`` tests get none.
    post_migrate: set[str] = field(default_factory=set)
    #: Close every connection after the test, as ``TransactionTestCase._post_teardown`` does (a pytest-django
    #: committing test: ``compat/database_fixtures.py``): the next test gets new ones, without the session
    #: state (``SET``, temporary tables, advisory locks) this one left. ``uses_db`` tests keep theirs.
    reload_connections: bool = False
    #: Called with each alias opened from now on (after its transaction started), e.g. by ``db_queries``.
    on_open: list[Callable[[str], None]] = field(default_factory=list)
    _undo: ExitStack = field(default_factory=ExitStack)
    #: Undone after the aliases' transactions ended: swaps, tables made for the test only (``defer``).
    _late: ExitStack = field(default_factory=ExitStack)
    _problems: list[str] = field(default_factory=list)
    #: The test's connections handed to the threads it starts, and those threads.
    _threads: ThreadSharing = field(init=False)
    #: Django's check of deferred constraints at the end of the test (rollback aliases that may write).
    _deferred: DeferredChecks = field(default_factory=DeferredChecks)

    def __post_init__(self) -> None:
        self._threads = ThreadSharing(self.test_id, self._problems)
        self.guard.start_test(self.test_id)
        self._undo.callback(self._step, texts.STEP_END_ACCESS, None, self.guard.end_test)
        self._undo.callback(self._step, texts.STEP_CLOSE_THREAD_CONNECTIONS, None,
                            self._threads.close_connections_of_threads)
        self._undo.enter_context(self._late)

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
            raise DeclarationConflict(texts.COMMIT_AFTER_ROLLBACK.format(test=self.test_id, alias=alias))
        if alias in self.rollback or alias in self.committing or alias in self._threads:
            return
        primary = self.configured.mirrors.get(alias)
        if primary is not None:
            self._open_mirror(alias, primary, commit)
            return
        self.guard.allow([alias])
        read_only = alias in self.configured.read_only
        if commit and read_only:
            raise readonly.ReadOnlyAliasError(
                readonly.commit_refused_message(texts.TRANSACTION_TRUE.format(test=self.test_id), alias))
        if self.reset_sequences and not read_only:  # before the test, like TransactionTestCase; outside its
            baseline = self.state.baselines.get(alias)   # transaction (MySQL DDL)
            reset_sequences(alias, keep=baseline.counts if baseline else (), extra=baseline.extra if baseline else ())
        if commit:
            self._threads.watch(alias)
            self.committing.append(alias)
            self._undo.callback(self._step, texts.STEP_EMPTY.format(alias=alias), alias,
                                functools.partial(self._empty, alias), retry=True)
        else:
            if read_only:
                readonly.begin(connections[alias])
            atomic = transaction.atomic(using=alias)
            hold = self.hold_autocommit and not read_only
            # No SET autocommit=0 if the test before left it off; held: no ROLLBACK if the test sends nothing.
            with held_autocommit.entering(connections[alias], watch=hold):
                atomic.__enter__()
            self.rollback[alias] = atomic
            self._undo.callback(self._step, texts.STEP_ROLL_BACK.format(alias=alias), alias,
                                functools.partial(self._roll_back, alias, atomic, hold))
            if read_only:
                readonly.began(connections[alias])
            else:
                self._deferred.begun(alias)
            self._share_with_threads(alias)
        spec = self.configured.specs[alias]
        if spec.vendor == "sqlite" and in_memory_under_django(spec):  # undone first, before the rollback or emptying
            self._undo.enter_context(close_ignored(connections[alias]))
        connections[alias].queries_log.clear()  # as TransactionTestCase._pre_setup clears it for the test's databases
        for hook in self.on_open:
            hook(alias)

    def _open_mirror(self, alias: str, primary: str, commit: bool) -> None:
        """A mirror reads its primary's test database: in rollback mode through the primary's own connection
        (so it sees the test's rows, in every thread); committing, through a connection of its own."""
        self.open(primary, commit)
        self.guard.allow([alias])
        if primary in self.rollback:
            self._threads.share_as(alias, primary)
            self._thread_sharing_storage()
        for hook in self.on_open:
            hook(alias)

    def defer(self, description: str, step: Callable[[], None]) -> None:
        """Run ``step`` after the test, once its aliases' transactions have ended (undo a swap, drop a table)."""
        self._late.callback(self._step, description, None, step)

    def _roll_back(self, alias: str, atomic: transaction.Atomic, hold: bool) -> None:
        transaction.set_rollback(True, using=alias)
        with held_autocommit.leaving(connections[alias]) if hold else nullcontext():
            atomic.__exit__(None, None, None)

    def _empty(self, alias: str) -> None:
        with self.guard.opened([alias]):
            empty_written_tables(alias, self.reset_sequences, self.state.baselines.get(alias))
            if alias in self.post_migrate:  # what Django's flush does after emptying (its handlers re-run)
                emit_post_migrate_signal(verbosity=0, interactive=False, db=alias)

    def _share_with_threads(self, alias: str) -> None:
        self._undo.callback(self._step, texts.STEP_END_SHARING.format(alias=alias), None,
                            self._threads.share(alias))
        self._thread_sharing_storage()

    def _thread_sharing_storage(self) -> None:
        """From now on every thread gets the thread-shared connections, until the test ends."""
        restore = self._threads.storage()
        if restore is not None:
            self._undo.callback(restore)

    def _step(self, description: str, alias: str | None, step: Callable[[], None], retry: bool = False) -> None:
        """Run one undo; a failure is reported, and a connection it broke is replaced (then tried again)."""
        try:
            step()
            return
        except Exception as error:
            if alias is None:
                self._problems.append(texts.STEP_FAILED.format(test=self.test_id, step=description,
                                                               error=described(error)))
                return
            failure = error
        said = alias in self.state.broken
        diagnosis = self._replace_connection(alias, failure)
        if said:
            return
        if diagnosis is None and retry:
            try:
                step()
                return
            except Exception as error:
                failure = error
        self._problems.append(diagnosis or texts.STEP_FAILED.format(test=self.test_id, step=description,
                                                                    error=described(failure)))

    def _replace_connection(self, alias: str, error: BaseException) -> str | None:
        """Close the alias's connection (it may be broken) and give the next user a fresh one."""
        with suppress(Exception):
            connections[alias].close()
        connections[alias] = connections.create_connection(alias)
        return self.state.diagnose(alias, error)

    def close(self) -> list[str]:
        """Check deferred constraints, roll back, empty what was committed, undo swaps, stop sharing. Returns the
        problems met, one line each; raises what Django's ``TestCase`` would raise at the test's teardown (an
        ``IntegrityError`` for a row the test left pointing nowhere), after everything was put back."""
        self._step(texts.STEP_CHECK_THREADS, None,
                   lambda: self._problems.extend(self._threads.leftover_threads(self.rollback)))
        failure: Exception | None = None
        try:
            self._deferred.check(alias for alias in self.rollback if alias not in self.configured.read_only)
        except Exception as error:
            failure = error
        self._undo.close()
        if self.reload_connections:
            self._step(texts.STEP_CLOSE_CONNECTIONS, None, self._close_connections)
        if failure is not None:
            raise failure
        return self._problems

    def _close_connections(self) -> None:
        """Django's ``close()`` of every connection made (one Django keeps in memory does nothing there: kept)."""
        for conn in connections.all(initialized_only=True):
            spec = self.configured.specs.get(conn.alias)
            if spec is not None and spec.vendor == "sqlite" and in_memory_under_django(spec):
                continue
            conn.close()


def reset_sequences(alias: str, keep: Iterable[str] = (), extra: Iterable[str] = ()) -> None:
    """Restart the sequences of the tables on ``alias``, so that a test's first row in each gets id 1; those of
    ``keep`` (tables holding install-time rows) go past their highest id instead. ``extra``: tables of unmanaged
    models made by the install."""
    conn = connections[alias]
    if not conn.features.supports_sequence_reset:
        return
    keep, extra = set(keep), set(extra)
    unmanaged = [m for m in apps.get_models() if not m._meta.managed and m._meta.db_table in extra]
    # All restarted: MySQL's and sqlite's go past a table's highest id by themselves, PostgreSQL's are moved there.
    sequences = [*conn.introspection.sequence_list(), *SchemaBuilder(alias, unmanaged).sequences()]
    statements = conn.ops.sequence_reset_by_name_sql(no_style(), sequences)
    with transaction.atomic(using=alias):
        if statements:
            with conn.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
        sequences_past_rows(alias, keep)
