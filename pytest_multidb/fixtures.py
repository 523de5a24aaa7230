"""The plugin's fixtures: the autouse ones that provision and isolate, and the user-facing ones.

All are a thin face over the run object (``run.MultiDB``, in ``config.stash``) and the running test's
databases (``isolation.TestDatabases``, in the test item's stash).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest
from django.db import Error as DatabaseError
from django.db import connections

from . import readonly, routing
from .isolation import DeclarationConflict, TestDatabases
from .messages import NO_SETTINGS
from .provision import ProvisionError
from .run import MultiDB
from .same_database import in_memory_under_django
from .schema import SchemaBuilder
from .session import DatabaseSession
from .settings_checks import did_you_mean
from .stash_keys import TEST_KEY
from .testcases import (
    class_declaration,
    connections_kept_open,
    django_test_class,
    forget_if_closed,
    unittest_run_as_django_does,
)


def current_run(request: pytest.FixtureRequest) -> MultiDB | None:
    """The run object; ``None`` when no Django settings are configured."""
    return MultiDB.of(request.config)


def current_databases(request: pytest.FixtureRequest) -> TestDatabases:
    """The running test's database state (created by the plugin before any fixture)."""
    try:
        return request.node.stash[TEST_KEY]
    except KeyError:
        raise pytest.UsageError(NO_SETTINGS) from None


def open_aliases(request: pytest.FixtureRequest, aliases: tuple[str, ...], commit: bool | list[str] = False) -> None:
    """Provision (if needed) and open ``aliases`` for the running test."""
    session: DatabaseSession = request.getfixturevalue("_multidb_session")
    run = current_run(request)
    assert run is not None  # the session fixture exists only with a run
    state = current_databases(request)
    unknown = [a for a in aliases if a not in session.specs]
    if unknown:  # this test fails, in one line; the others go on
        pytest.fail(
            f"multidb: {request.node.nodeid}: unknown database alias {unknown[0]!r}; known aliases: "
            f"{', '.join(session.specs)}. Fix: {did_you_mean(unknown[0], session.specs)}use one of them or add it to "
            "DATABASES/OTHER_DATABASES.", pytrace=False)
    ensure(request, session, aliases)
    committing = set(aliases) if commit is True else set(commit or ())
    for alias in sorted(committing & run.aliases.read_only):
        who = f"{request.node.nodeid}: uses_db({alias!r}, transaction=...) commits"
        pytest.fail(f"multidb: {readonly.commit_refused_message(who, alias)}", pytrace=False)
    for alias in aliases:
        if alias in session.state.broken:
            pytest.fail(f"multidb: {request.node.nodeid}: {session.state.broken[alias]}", pytrace=False)
        failure = None
        try:
            state.open(alias, commit=alias in committing)
        except DeclarationConflict as error:
            failure = f"multidb: {error}"
        except DatabaseError as error:
            diagnosis = session.state.diagnose(alias, error)
            if diagnosis is None:
                raise
            failure = f"multidb: {request.node.nodeid}: {diagnosis}"
        if failure is not None:  # outside the except: one line, no "During handling of the above exception"
            pytest.fail(failure, pytrace=False)


def ensure(request: pytest.FixtureRequest, session: DatabaseSession, aliases: Iterable[str]) -> None:
    """Provision ``aliases`` (if needed); a provisioning error stops the run in one line."""
    try:
        session.ensure(aliases)
    except ProvisionError as error:
        message = f"multidb: {error}"
    else:
        return
    stop_run(request, message)  # outside the except: no "During handling of the above exception" under xdist


def stop_run(request: pytest.FixtureRequest, message: str) -> NoReturn:
    """Fail fast with one clear message: the run ends as a usage error.

    Inside an xdist worker ``pytest.exit`` would break the worker protocol (and lose the message), so
    there the test errors with the message and the worker stops.
    """
    if hasattr(request.config, "workerinput"):
        request.session.shouldstop = message
        pytest.fail(message, pytrace=False)
    pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture
def uses_db(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Declare, from a fixture, the database aliases the test may use.

    ``uses_db("a", "b", transaction=False)`` opens the aliases for every test that uses the fixture (even
    without the ``uses_db`` marker): rolled back after the test, or with ``transaction=True`` (or a list of
    aliases) committed for real and emptied afterwards.
    """

    def declare(*aliases: str, transaction: bool | list[str] = False) -> None:
        open_aliases(request, aliases or ("default",), transaction)

    return declare


@pytest.fixture
def swap_db(request: pytest.FixtureRequest) -> Callable[[Any, str], routing.ConnectionInfo]:
    """``swap_db(Model, "b")``: send every query of ``Model`` to alias ``b`` for the rest of the test.

    The alias is opened for the test. If the model's table does not exist on ``b`` it is created for this
    test only. The swap is undone at teardown.
    """
    state = current_databases(request)

    def swap(model: Any, alias: str) -> routing.ConnectionInfo:
        open_aliases(request, (alias,))
        previous = routing.global_swap(model)
        _install_for_test(model, alias, state)
        routing.swap(model, alias)
        state.defer(f"undoing the swap of {model._meta.label} to {alias!r}", lambda: routing.swap(model, previous))
        return routing.ConnectionInfo(alias)

    return swap


def _install_for_test(model: Any, alias: str, state: TestDatabases) -> None:
    """Create ``model``'s table on ``alias`` for this test if it is missing.

    When the alias is rolled back and its DDL is transactional (PostgreSQL, sqlite), the table is created
    inside the test's transaction and goes away with its rollback. Otherwise (MariaDB/MySQL, where DDL would
    commit the test's transaction, or a committing alias) it is created through a connection of its own and
    dropped after the test. The SQL is always generated on a
    connection of its own: Django's sqlite schema editor refuses to open inside a transaction.
    """
    own = connections.create_connection(alias)
    builder = SchemaBuilder(alias, [model], connection=own)
    try:
        if builder.existing_tables():
            return
        if alias in state.configured.read_only:  # its real database: no table is made there, not even for one test
            pytest.fail(f"multidb: swap_db({model._meta.label}, {alias!r}): {alias!r} is TEST['PROVISION'] = "
                        f"'existing' and has no table {model._meta.db_table!r}; nothing is created in its real "
                        "database. Fix: swap to an alias that has the table, or to a test database alias.",
                        pytrace=False)
        if alias in state.rollback and own.features.can_rollback_ddl:
            with connections[alias].cursor() as cursor:
                for statement in builder.create_sql():
                    cursor.execute(statement)
            return
        builder.install()
    finally:
        own.close()

    def drop() -> None:
        try:
            builder.drop()
        finally:
            own.close()

    state.defer(f"dropping the table of {model._meta.label} made on {alias!r} for the test", drop)


@pytest.fixture
def use_db() -> Callable[[Any, str], AbstractContextManager[routing.ConnectionInfo]]:
    """The ``use_db(Model, alias)`` context manager: a swap for this thread / task only, inside the block."""
    return routing.use_db


@pytest.fixture
def multidb(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """What was provisioned so far, per alias: kind, name, settings, provision and install seconds."""
    run = current_run(request)
    return run.session.info() if run is not None else {}


@dataclass
class AliasQueries:
    """Queries run on one alias during the test (since ``db_queries`` was requested)."""

    sql: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sql)

    def __len__(self) -> int:
        return len(self.sql)


class QueryLog(dict):
    """``db_queries["a"].count``: queries per alias. Unknown aliases read as empty."""

    def __missing__(self, alias: str) -> AliasQueries:
        return AliasQueries()


@pytest.fixture
def db_queries(request: pytest.FixtureRequest) -> Iterator[QueryLog]:
    """Capture the queries each declared alias runs during the test: ``assert db_queries["a"].count == 2``.

    Aliases declared later (by a fixture's ``uses_db``, by ``swap_db``) are captured from then on.
    """
    state = current_databases(request)
    log = QueryLog()
    installed: list[tuple[Any, Callable[..., Any]]] = []

    def capture(alias: str) -> None:
        queries = log.setdefault(alias, AliasQueries())

        def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            queries.sql.append(sql)
            return execute(sql, params, many, context)

        conn = connections[alias]
        conn.execute_wrappers.insert(0, wrapper)
        installed.append((conn, wrapper))

    for alias in state.aliases:
        capture(alias)
    state.on_open.append(capture)
    yield log
    state.on_open.remove(capture)
    for conn, wrapper in installed:
        conn.execute_wrappers.remove(wrapper)


@pytest.fixture
def multidb_atomic(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``pytest_multidb.atomic`` over the test's declared aliases: ``with multidb_atomic(): ...``."""
    from .transaction import atomic

    state = current_databases(request)

    def make(**kwargs: Any) -> Any:
        return atomic(connections=list(state.aliases), **kwargs)

    return make


# -- the plugin's own fixtures: the session's databases and the per-test isolation -------------------------


@pytest.fixture(scope="session")
def _multidb_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseSession]:
    """The session's databases; created at the first test that needs one, removed at the end."""
    run = current_run(request)
    if run is None:
        raise pytest.UsageError(NO_SETTINGS)
    config = request.config
    session = run.start_session(lambda: tmp_path_factory.mktemp("multidb"), progress_writer(config))
    if hasattr(config, "workeroutput"):  # an xdist worker: its summary goes to the controller at the end
        config.workeroutput["multidb"] = session.summary
    try:
        ensure(request, session, run.needed)  # everything the collected tests need, in parallel
        yield session
    finally:
        errors = session.teardown()
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


def progress_writer(config: pytest.Config) -> Callable[[str], None]:
    """Write a line to the terminal as it happens, not into the running test's captured output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            reporter.write_line(line)

    return write


@pytest.fixture(autouse=True)
def _multidb_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Open the databases the test declared (one transaction each) and put everything back afterwards."""
    run = current_run(request)
    if run is None:
        yield
        return
    node = request.node
    state = node.stash[TEST_KEY] = run.test_databases(node)
    found = run.declarations.get(node.nodeid)
    for alias in (found.aliases if found is not None else ()):
        made = getattr(connections._connections, alias, None)  # only a connection that exists (no backend loaded)
        if made is not None:
            forget_if_closed(made)
    try:
        if found is not None and not found.django_class:  # Django's test classes isolate themselves
            open_aliases(request, found.aliases, list(found.committing))
        yield
    finally:
        problems = state.close()
        del node.stash[TEST_KEY]
    if problems:
        pytest.fail("multidb: " + "\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True, scope="class")
def _multidb_django_class(request: pytest.FixtureRequest) -> Iterator[None]:
    """A Django test class: provision its ``databases`` and allow them from ``setUpClass`` to ``tearDownClass``.

    Django's class machinery isolates the class itself (class-wide atomics, ``setUpTestData``, ``fixtures``,
    ``TransactionTestCase``'s flush, ``serialized_rollback``); it is not wrapped twice. Runs before the class's
    ``setUpClass`` (plugin autouse fixtures come before the class's own).
    """
    run = current_run(request)
    cls = django_test_class(request.node) if run is not None else None
    if cls is None or run is None:
        yield
        return
    found = class_declaration(cls, run.specs)
    with unittest_run_as_django_does():
        if found is None:
            yield
            return
        session: DatabaseSession = request.getfixturevalue("_multidb_session")
        ensure(request, session, found.aliases)
        in_memory = [a for a in found.aliases if a in run.specs and in_memory_under_django(run.specs[a])
                     and session.kind(a) == "sqlite"]
        with run.guard.django_class(cls.__qualname__, found.aliases), connections_kept_open(in_memory):
            yield
