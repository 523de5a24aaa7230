"""The plugin's own fixtures: the session's databases (created at the first test that needs one), each test's
isolation and Django test classes' databases (autouse), and the helpers every fixture opens aliases with.

A thin face over the run object (``run.MultiDB``, in ``config.stash``) and the running test's databases
(``isolation.TestDatabases``, in the test item's stash); the user-facing fixtures are in ``fixtures.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, nullcontext
from typing import NoReturn

import pytest
from django.db import Error as DatabaseError
from django.db import connections

from . import readonly
from .isolation import DeclarationConflict, TestDatabases
from .markers import skipped_whatever_happens
from .messages import NO_SETTINGS
from .messages import run as texts
from .provision import ProvisionError
from .run import MultiDB
from .same_database import in_memory_under_django
from .session import DatabaseSession
from .settings_checks import did_you_mean
from .stash_keys import TEST_KEY
from .testcases import (
    class_declaration,
    connections_kept_open,
    django_test_class,
    forget_if_closed,
    seen_in_memory,
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


def database_session(request: pytest.FixtureRequest) -> DatabaseSession:
    """The ``_multidb_session`` fixture's value. pytest sets it up at the first request and tears it down at the
    session's end; in between it is read from the run (a fixture lookup per test cost more than opening an
    alias, profiled)."""
    run = current_run(request)
    if run is not None and run.session_fixture_up:
        return run.session
    return request.getfixturevalue("_multidb_session")


def open_aliases(request: pytest.FixtureRequest, aliases: tuple[str, ...], commit: bool | list[str] = False) -> None:
    """Provision (if needed) and open ``aliases`` for the running test."""
    session = database_session(request)
    run = current_run(request)
    assert run is not None  # the session fixture exists only with a run
    state = current_databases(request)
    unknown = [a for a in aliases if a not in session.specs]
    if unknown:  # this test fails, in one line; the others go on
        pytest.fail(texts.UNKNOWN_OPENED_ALIAS.format(
            nodeid=request.node.nodeid, alias=unknown[0], known=", ".join(session.specs),
            did_you_mean=did_you_mean(unknown[0], session.specs)), pytrace=False)
    ensure(request, session, aliases)
    committing = set(aliases) if commit is True else set(commit or ())
    for alias in sorted(committing & run.aliases.read_only):
        who = texts.USES_DB_COMMITS.format(nodeid=request.node.nodeid, alias=alias)
        pytest.fail(texts.PREFIXED.format(line=readonly.commit_refused_message(who, alias)), pytrace=False)
    for alias in aliases:
        if alias in session.state.broken:
            pytest.fail(texts.TEST_FAILED.format(nodeid=request.node.nodeid, line=session.state.broken[alias]),
                        pytrace=False)
        failure = None
        try:
            state.open(alias, commit=alias in committing)
        except DeclarationConflict as error:
            failure = texts.PREFIXED.format(line=error)
        except DatabaseError as error:
            diagnosis = session.state.diagnose(alias, error)
            if diagnosis is None:
                raise
            failure = texts.TEST_FAILED.format(nodeid=request.node.nodeid, line=diagnosis)
        if failure is not None:  # outside the except: one line, no "During handling of the above exception"
            pytest.fail(failure, pytrace=False)


def ensure(request: pytest.FixtureRequest, session: DatabaseSession, aliases: Iterable[str]) -> None:
    """Provision ``aliases`` (if needed); a provisioning error stops the run in one line."""
    try:
        session.ensure(aliases)
    except ProvisionError as error:
        message = texts.PREFIXED.format(line=error)
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
        run.session_fixture_up = True
        yield session
    finally:
        run.session_fixture_up = False
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


#: The name of the per-test fixture below, which opens the test's databases (other fixtures are placed after it).
TEST_FIXTURE = "_multidb_test"


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
        try:
            problems = state.close()
        finally:
            del node.stash[TEST_KEY]
    if problems:
        pytest.fail(texts.PREFIXED.format(line="\n".join(problems)), pytrace=False)


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
    # A class unittest skips (``skipUnless("replica" in connections)``) is never set up: it asks for nothing.
    found = None if skipped_whatever_happens(request.node) else class_declaration(cls, run.specs)
    with unittest_run_as_django_does(), ExitStack() as stack:
        if found is not None:
            ensure(request, database_session(request), found.aliases)
            stack.enter_context(run.guard.django_class(cls.__qualname__, found.aliases))
        # The sqlite test databases Django would keep in memory are, to Django, in memory while the class runs;
        # the ones the class declares are open all along, as an in-memory database is.
        in_memory = [alias for alias in run.session.provisioned if run.session.kind(alias) == "sqlite"
                     and in_memory_under_django(run.specs[alias])]
        declared = [alias for alias in in_memory if found is not None and alias in found.aliases]
        stack.enter_context(connections_kept_open(declared))
        for alias in in_memory:
            if alias not in declared:
                stack.enter_context(seen_in_memory(connections[alias]))
        yield
