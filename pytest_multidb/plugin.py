"""pytest-multidb's pytest hooks: options, Django bootstrap, the run object, reporting.

Loaded by ``pytest -p multidb`` or automatically once installed (entry point ``multidb``); ``-p no:multidb``
turns it off. A project without Django settings is left alone. The state lives in the run object
(``run.MultiDB``, in ``config.stash``); the fixtures are in ``fixtures.py`` (the user's) and
``plugin_fixtures.py`` (the plugin's own).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import clean, plugin_fixtures
from .bootstrap import schema_cache_dir
from .compat import pytest_django
from .compat.step_aside import step_aside
from .fixtures import (  # the plugin's fixtures are registered with it, as pytest-django's are
    db_queries,
    multidb,
    multidb_atomic,
    swap_db,
    use_db,
    uses_db,
)
from .footprint import policy_from_config
from .markers import MARKER_HELP
from .messages import plugin as texts
from .plugin_fixtures import _multidb_django_class, _multidb_session, _multidb_test
from .provision import existing
from .provision.registry import Registry
from .provision.xdist import WORKERINPUT_KEY, XdistRun, stop_owned
from .run import MultiDB
from .stash_keys import TEST_KEY, WORKER_LINES_KEY, XDIST_KEY

__all__ = [
    "_multidb_django_class",
    "_multidb_session",
    "_multidb_test",
    "db_queries",
    "multidb",
    "multidb_atomic",
    "pytest_addoption",
    "pytest_cmdline_main",
    "pytest_collection_finish",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_load_initial_conftests",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_runtest_protocol",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_testnodedown",
    "pytest_unconfigure",
    "swap_db",
    "use_db",
    "uses_db",
]

#: The name of the plugin serving pytest-django's marker, fixtures and options (pytest-django itself steps aside).
COMPAT_PLUGIN = "multidb.pytest_django"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    step_aside(pluginmanager)  # pytest-django, if installed, does not load: we serve its names
    pluginmanager.register(pytest_django, COMPAT_PLUGIN)
    group = parser.getgroup("multidb", "pytest-multidb (several Django databases)")
    group.addoption("--multidb-settings", metavar="MODULE",
                    help="Django settings module (else ini multidb_settings, else DJANGO_SETTINGS_MODULE).")
    group.addoption("--multidb-provision", action="append", default=[], metavar="ALIAS=KIND",
                    help="How to provision ALIAS: sqlite, server, process, container, existing (its real database, "
                    "read-only) or auto (repeatable).")
    group.addoption("--multidb-no-migrations", action="store_true",
                    help="Build every table with the schema builder instead of running migrations.")
    group.addoption("--multidb-rebuild", action="store_true",
                    help="Rebuild every test schema instead of reusing the cached one (the cache is refreshed).")
    group.addoption("--multidb-no-warm", action="store_true",
                    help="Drop the test databases at the end instead of keeping them warm for the next run with the "
                    "same schema (also: MULTIDB_WARM=0).")
    group.addoption("--multidb-unmanaged", choices=("create", "skip"), default=None,
                    help="create: every alias's test database gets tables for its unmanaged (managed = False) models; "
                    "skip: none do (default: each alias's TEST['UNMANAGED'], else skip, as in Django).")
    group.addoption("--multidb-autocommit-each-test", action="store_true",
                    help="MySQL/MariaDB: turn the driver's autocommit off and on around every rollback test, as "
                    "Django's atomic() does (by default it stays off from one rollback test to the next: two round "
                    "trips per test and alias fewer).")
    group.addoption("--multidb-clean", nargs="?", const="project", default=None, choices=("project", "all"),
                    help="List and remove what interrupted runs left behind (test databases, servers, containers) "
                    "and this project's warm databases and templates on the servers it can reach, then exit; "
                    "=all: every warm database and template of this host. Live runs' are never touched.")
    group.addoption("--dry-run", "--plan", action="store_true", dest="multidb_dry_run",
                    help="With --multidb-clean: only list what it would remove.")
    group.addoption("--multidb-keep", type=int, default=None, metavar="N",
                    help="Keep at most N warm databases and N templates per configured NAME per server "
                    "(ini multidb_keep, default 2); the least recently claimed go first.")
    group.addoption("--multidb-max-age-days", type=float, default=None, metavar="DAYS",
                    help="Drop warm databases and templates not claimed for DAYS days (ini multidb_max_age_days, "
                    "default 14).")
    parser.addini("multidb_settings", "Django settings module for pytest-multidb.")
    parser.addini("multidb_keep", "At most this many warm databases and templates per configured NAME per server "
                  "(default 2).", default="2")
    parser.addini("multidb_max_age_days", "Drop warm databases and templates not claimed for this many days "
                  "(default 14).", default="14")


def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Before the initial conftests load (pytest's own impl is trylast), so they can import models and the
    # guard already blocks their database access; after the 'pythonpath' ini option is applied (tryfirst).
    MultiDB.start(early_config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    MultiDB.start(config)


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``pytest --multidb-clean[=all] [--dry-run]``: remove (or list) what runs left behind, and exit (``clean.py``)."""
    scope = config.getoption("multidb_clean")
    if not scope:
        return None
    dry_run = config.getoption("multidb_dry_run")
    # As pytest's own --markers does: the conftests' pytest_configure first (one may call settings.configure()).
    config._do_configure()
    try:
        if MultiDB.of(config) is None:
            print(texts.CLEAN_WITHOUT_SETTINGS)
            return 1
        done, failed = clean.run(schema_cache_dir(config), policy_from_config(config), scope == "all", dry_run)
    finally:
        config._ensure_unconfigure()
    for line in done:
        print(f"multidb: {line}")
    for line in failed:
        print(texts.NOT_REMOVED.format(what=line))
    return 1 if failed else 0


def pytest_unconfigure(config: pytest.Config) -> None:
    run = MultiDB.of(config)
    if run is not None:
        run.close()


@pytest.hookimpl(trylast=True)  # after -k / -m / --deselect: only the selected tests' aliases count
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Read every test's ``uses_db`` markers; unknown aliases fail the run before anything is provisioned."""
    run = MultiDB.of(config)
    if run is not None:
        run.read_declarations(items)
        return
    marked = next((item.nodeid for item in items if item.get_closest_marker("uses_db")), None)
    if marked is not None:
        raise pytest.UsageError(texts.USES_DB_WITHOUT_SETTINGS.format(test=marked))


@pytest.hookimpl(tryfirst=True)  # before pytest_runtest_logstart, where the reporter writes the file name
def pytest_runtest_protocol(item: pytest.Item) -> None:
    """Announce the aliases the first test that needs them will provision, before the test's line starts."""
    run = MultiDB.of(item.config)
    if run is not None:
        lines = run.announce(item.nodeid)
        if lines:
            write = plugin_fixtures.progress_writer(item.config)
            for line in lines:
                write(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A test that failed because an alias's server died gets one line saying so, not the driver's traceback."""
    report = yield
    run = MultiDB.of(item.config)
    state = item.stash.get(TEST_KEY, None)
    if run is not None and state is not None and report.failed and call.excinfo is not None:
        diagnosis = run.session.state.diagnose_failure(state.aliases, call.excinfo.value)
        if diagnosis is not None:
            report.longrepr = texts.TEST_FAILURE_DIAGNOSED.format(test=item.nodeid, diagnosis=diagnosis)
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = MultiDB.of(config)
    if run is None:
        return []
    return [f"multidb: aliases {', '.join(run.specs)}", *(f"multidb: {note}" for note in run.aliases.setting_notes()),
            *existing.header(run.aliases.read_only, run.specs, run.guard.opened)]


def pytest_collection_finish(session: pytest.Session) -> None:
    """After "collected N items": which aliases the selected tests need, and through which declarations."""
    run = MultiDB.of(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    needs = run.needs() if run is not None else None
    if needs is not None and reporter is not None and session.config.option.verbose >= 0:
        reporter.write_line(needs)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """xdist controller: every worker gets the run whose ``process`` / ``container`` servers they share."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    if MultiDB.of(config) is None:
        return
    if XDIST_KEY not in config.stash:
        config.stash[XDIST_KEY] = XdistRun.for_controller(config._tmp_path_factory.getbasetemp())
    node.workerinput[WORKERINPUT_KEY] = config.stash[XDIST_KEY].to_workerinput()  # type: ignore[attr-defined]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """xdist controller, every worker done: stop the servers and containers of the run (``provision/xdist.py``)."""
    xdist_run = session.config.stash.get(XDIST_KEY, None)
    if xdist_run is None:
        return
    removed, failed = stop_owned(Registry(), xdist_run.owner)
    lines = session.config.stash.setdefault(WORKER_LINES_KEY, [])
    lines += [texts.STOPPED.format(what=what) for what in removed]
    lines += [texts.NOT_STOPPED.format(what=what) for what in failed]


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
    run = MultiDB.of(config)
    session = run.session if run is not None else None
    lines = [*(session.summary if session else []), *config.stash.get(WORKER_LINES_KEY, [])]
    if lines:
        terminalreporter.section("multidb")
        for line in lines:
            terminalreporter.line(line)
