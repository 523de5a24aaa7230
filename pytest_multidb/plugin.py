"""pytest-multidb's pytest hooks: options, the ``uses_db`` marker, Django bootstrap, per-test isolation.

Loaded by ``pytest -p multidb`` or automatically once installed (entry point ``multidb``); ``-p no:multidb``
turns it off. A project without Django settings is left alone.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import pytest

from .conf import ConfigurationError
from .emptying import Baseline
from .fixtures import (
    SESSION_KEY,
    TEST_KEY,
    db_queries,
    multidb,
    multidb_atomic,
    open_aliases,
    stop_run,
    swap_db,
    use_db,
    uses_db,
)
from .isolation import TestDatabases, guard
from .markers import MARKER_HELP, Declaration, declaration
from .provision import ProvisionError
from .provision.registry import Registry
from .session import DatabaseSession, SessionOptions

__all__ = [
    "_multidb_session",
    "_multidb_test",
    "db_queries",
    "multidb",
    "multidb_atomic",
    "pytest_addoption",
    "pytest_cmdline_main",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_load_initial_conftests",
    "pytest_report_header",
    "pytest_terminal_summary",
    "pytest_testnodedown",
    "pytest_unconfigure",
    "swap_db",
    "use_db",
    "uses_db",
]

DJANGO_READY_KEY = pytest.StashKey[bool]()
DECLARATION_KEY = pytest.StashKey[Declaration]()
NEEDED_KEY = pytest.StashKey[list[str]]()
#: Per alias, the rows its schema install left (see emptying.py); filled by the session, read by each test.
BASELINES_KEY = pytest.StashKey[dict[str, Baseline]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("multidb", "pytest-multidb (several Django databases)")
    group.addoption("--multidb-settings", metavar="MODULE",
                    help="Django settings module (else ini multidb_settings, else DJANGO_SETTINGS_MODULE).")
    group.addoption("--multidb-provision", action="append", default=[], metavar="ALIAS=KIND",
                    help="How to provision ALIAS: sqlite, server, process, container or auto (repeatable).")
    group.addoption("--multidb-no-migrations", action="store_true",
                    help="Build every table with the schema builder instead of running migrations.")
    group.addoption("--multidb-rebuild", action="store_true",
                    help="Rebuild every test schema instead of reusing the cached one (the cache is refreshed).")
    group.addoption("--multidb-clean", action="store_true",
                    help="List and remove what interrupted runs left behind (test databases, servers, containers), "
                    "then exit. Resources of live runs are never touched.")
    parser.addini("multidb_settings", "Django settings module for pytest-multidb.")


def _settings_source(config: pytest.Config) -> tuple[str, str] | None:
    options = config.known_args_namespace
    for source, value in (
        ("--multidb-settings", getattr(options, "multidb_settings", None)),
        ("ini option multidb_settings", config.getini("multidb_settings")),
        ("DJANGO_SETTINGS_MODULE", os.environ.get("DJANGO_SETTINGS_MODULE")),
    ):
        if value:
            return source, value
    return None


def _setup_django(config: pytest.Config) -> bool:
    """Configure Django (once) and wire the multi-DB layer; ``False`` when no settings are known."""
    import django
    from django.apps import apps
    from django.conf import settings

    from .apps import wire_layer

    if not apps.ready:
        found = _settings_source(config)
        if found is None and not settings.configured:
            return False
        if found is not None and not settings.configured:
            source, module = found
            try:
                importlib.import_module(module)
            except Exception as error:
                raise pytest.UsageError(
                    f"multidb: the Django settings module {module!r} (from {source}) cannot be imported: "
                    f"{type(error).__name__}: {error}. Fix: correct {source}, or put the module's directory on "
                    "sys.path (ini option 'pythonpath')."
                ) from error
            os.environ["DJANGO_SETTINGS_MODULE"] = module
        try:
            django.setup()
        except ConfigurationError as error:
            raise pytest.UsageError(f"multidb: {error}") from error
    try:
        wire_layer()
    except ConfigurationError as error:
        raise pytest.UsageError(f"multidb: {error}") from error
    return True


def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Before the initial conftests load (pytest's own impl is trylast), so they can import models; after
    # the 'pythonpath' ini option is applied (that impl is tryfirst).
    early_config.stash[DJANGO_READY_KEY] = _setup_django(early_config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    ready = config.stash.get(DJANGO_READY_KEY, False) or _setup_django(config)
    config.stash[DJANGO_READY_KEY] = ready
    if ready:
        guard.active = True
        if not _beside_pytest_django(config):  # else installed per test, see _instead_of_pytest_django_blocker
            guard.install()


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``pytest --multidb-clean``: remove leftovers of dead runs and exit."""
    if not config.getoption("multidb_clean"):
        return None
    registry = Registry()
    leftovers = registry.leftovers()
    removed, failed = registry.clean()
    print(f"multidb: {len(leftovers)} leftover(s) of dead runs in {registry.directory}")
    for line in removed:
        print(f"multidb: removed {line}")
    for line in failed:
        print(f"multidb: could not remove {line}")
    return 1 if failed else 0


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(DJANGO_READY_KEY, False):
        guard.active = False
        guard.uninstall()


@pytest.hookimpl(trylast=True)  # after -k / -m / --deselect: only the selected tests' aliases count
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Read every test's ``uses_db`` markers; unknown aliases fail the run before anything is provisioned."""
    declared = {}
    for item in items:
        found = declaration(item)
        if found is not None:
            item.stash[DECLARATION_KEY] = declared[item.nodeid] = found
    if not declared:
        return
    if not config.stash.get(DJANGO_READY_KEY, False):
        raise pytest.UsageError(
            f"multidb: {next(iter(declared))} uses @pytest.mark.uses_db but no Django settings are configured. "
            "Fix: pass --multidb-settings MODULE, set the ini option multidb_settings, or DJANGO_SETTINGS_MODULE."
        )
    from django.db import connections

    known = list(connections.settings)
    errors = []
    for nodeid, found in declared.items():
        errors += [
            f"{nodeid}: @pytest.mark.uses_db names unknown database alias {alias!r}; known aliases: "
            f"{', '.join(known)}. Fix: use one of them, or add the alias to DATABASES or OTHER_DATABASES."
            for alias in found.aliases
            if alias not in known
        ]
        errors += [
            f"{nodeid}: uses_db(transaction=[...]) names {alias!r}, which the marker does not declare. "
            f"Fix: add {alias!r} to the marker's aliases."
            for alias in found.committing
            if alias not in found.aliases
        ]
    if errors:
        raise pytest.UsageError("multidb:\n" + "\n".join(errors))
    config.stash[NEEDED_KEY] = list(dict.fromkeys(a for found in declared.values() for a in found.aliases))


def _session_options(config: pytest.Config) -> SessionOptions:
    requested = {}
    for entry in config.getoption("multidb_provision"):
        alias, sep, kind = entry.partition("=")
        if not sep or not alias or not kind:
            raise pytest.UsageError(f"multidb: --multidb-provision {entry!r}: expected ALIAS=KIND, e.g. b=process")
        requested[alias] = kind
    cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
    return SessionOptions(
        provision=requested,
        migrations=not config.getoption("multidb_no_migrations"),
        cache_dir=cache.mkdir("multidb") if cache is not None else None,
        rebuild=config.getoption("multidb_rebuild"),
    )


@pytest.fixture(scope="session")
def _multidb_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseSession]:
    """The session's databases; created at the first test that needs one, removed at the end."""
    config = request.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def report(line: str) -> None:
        """Progress lines go to the terminal as they happen, not into the test's captured output."""
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            reporter.write_line(line)

    # Requested now, so that pytest-django's blocker is torn down after this fixture (we need it to drop).
    blocker = request.getfixturevalue("django_db_blocker") if _beside_pytest_django(config) else None
    session = DatabaseSession(_session_options(config), lambda: tmp_path_factory.mktemp("multidb"), report)
    session.baselines = config.stash.setdefault(BASELINES_KEY, {})
    config.stash[SESSION_KEY] = session
    if hasattr(config, "workeroutput"):  # an xdist worker: its summary goes to the controller at the end
        config.workeroutput["multidb"] = session.summary
    try:
        try:
            session.ensure(config.stash.get(NEEDED_KEY, []))  # everything the collected tests need, in parallel
        except ProvisionError as error:
            stop_run(request, f"multidb: {error}")
        yield session
    finally:
        with blocker.unblock() if blocker is not None else nullcontext():
            errors = session.teardown()
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture(autouse=True)
def _multidb_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Open the databases the test declared (one transaction each) and put everything back afterwards."""
    if not request.config.stash.get(DJANGO_READY_KEY, False):
        yield
        return
    node = request.node
    if _owned_by_pytest_django(request):
        yield
        return
    found = node.stash.get(DECLARATION_KEY, None)
    state = node.stash[TEST_KEY] = TestDatabases(
        node.nodeid, reset_sequences=bool(found and found.reset_sequences),
        baselines=request.config.stash.setdefault(BASELINES_KEY, {}),
    )
    guard.start_test(node.nodeid)
    with _instead_of_pytest_django_blocker(request):
        try:
            if found is not None:
                open_aliases(request, found.aliases, list(found.committing))
            yield
        finally:
            problems = state.close()
            guard.end_test()
            del node.stash[TEST_KEY]
    if problems:
        pytest.fail("multidb: " + "\n".join(problems), pytrace=False)


# -- beside pytest-django -------------------------------------------------------------------------------
# pytest-django owns the databases of its own tests (django_db marker, db-style fixtures) and blocks every
# other test with a class-level ensure_connection wrapper. For the other tests pytest-multidb lifts that
# blocker and puts its own guard in its place, so undeclared aliases stay blocked.

#: pytest-django fixtures that make a test pytest-django's.
PYTEST_DJANGO_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}
)


def _beside_pytest_django(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("django")


def _owned_by_pytest_django(request: pytest.FixtureRequest) -> bool:
    return _beside_pytest_django(request.config) and (
        request.node.get_closest_marker("django_db") is not None
        or bool(PYTEST_DJANGO_FIXTURES.intersection(request.fixturenames))
    )


@contextmanager
def _instead_of_pytest_django_blocker(request: pytest.FixtureRequest) -> Iterator[None]:
    blocker = request.getfixturevalue("django_db_blocker") if _beside_pytest_django(request.config) else None
    if blocker is None:
        yield
        return
    with blocker.unblock():
        guard.install()
        try:
            yield
        finally:
            guard.uninstall()


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not config.stash.get(DJANGO_READY_KEY, False):
        return []
    from django.db import connections

    return [f"multidb: aliases {', '.join(connections.settings)} (provisioned on first use)"]


WORKER_LINES_KEY = pytest.StashKey[list[str]]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist controller: keep each worker's provisioning lines for the summary."""
    lines = getattr(node, "workeroutput", {}).get("multidb", [])
    worker = getattr(node, "gateway", None)
    config = node.config  # type: ignore[attr-defined]
    config.stash.setdefault(WORKER_LINES_KEY, []).extend(
        f"[{getattr(worker, 'id', '?')}] {line}" for line in lines
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """One line per provisioned alias: kind, engine, test database, seconds to provision + install."""
    session = config.stash.get(SESSION_KEY, None)
    lines = [*(session.summary if session else []), *config.stash.get(WORKER_LINES_KEY, [])]
    if lines:
        terminalreporter.section("multidb")
        for line in lines:
            terminalreporter.line(line)
