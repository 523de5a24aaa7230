"""pytest-django's vocabulary served by pytest-multidb: its marker, fixtures, options and ini keys, mapped onto ours.

Registered by ``plugin.py`` as the plugin ``multidb.pytest_django``. When pytest-django is installed too, it
steps aside (``step_aside``: it is not loaded), so one plugin owns every test database: a suite migrating file by
file mixes both vocabularies on the same aliases; ``-p no:multidb`` runs pytest-django alone.

The ``django_db`` marker becomes a declaration like ``uses_db``'s: ``databases``
(``None``: ``default``; ``"__all__"``: every alias), ``transaction=True``: every declared alias commits and is
emptied afterwards (then ``post_migrate`` is sent, as Django's flush sends it), ``reset_sequences``,
``serialized_rollback`` (the install-time contents are restored after the emptying), ``available_apps`` (the
app registry is restricted for the test). A test that requests ``db``,
``transactional_db``, ``django_db_reset_sequences``, ``django_db_serialized_rollback`` or ``live_server`` (directly
or through ``admin_user``, ``admin_client``, ...) declares ``default`` the same way, at collection: its aliases
are provisioned at session start. Every fixture is here (the objects behind them: ``pytest_django_support``);
``docs/pytest-django.md`` has the table.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

import pytest

from ..markers import Declaration
from . import pytest_django_support as support
from .pytest_django_support import DjangoDbBlocker, LiveServer, SettingsWrapper

MARKER = "django_db"
MARKER_HELP = (
    "django_db(transaction=False, reset_sequences=False, databases=None, serialized_rollback=False, "
    "available_apps=None): pytest-django's marker, served by pytest-multidb: the test may use the database "
    "aliases 'databases' (default: 'default'; '__all__': every alias)."
)
#: The marker's keywords (pytest-django's ``_django_db_signature``).
KEYWORDS = ("transaction", "reset_sequences", "databases", "serialized_rollback", "available_apps")


#: Registered when pytest-django is installed and steps aside (the header says so).
STEPPED_ASIDE = "multidb.pytest_django_stepped_aside"


class SteppedAside:
    """The mark that pytest-django is installed but does not load in this run: its version, for the header."""

    def __init__(self, version: str) -> None:
        self.version = version


def step_aside(pluginmanager: pytest.PytestPluginManager) -> None:
    """Keep pytest-django from loading (or unregister it if it loaded first) when it is installed: pytest-multidb
    serves its whole vocabulary itself, so one plugin owns every test database and every test (docs/pytest-django.md).
    ``-p no:multidb`` runs pytest-django alone; ``-p no:django`` was the user's own choice and is not reported."""
    if pluginmanager.is_blocked("django") and not pluginmanager.has_plugin("django"):
        return
    if not pluginmanager.has_plugin("django") and importlib.util.find_spec("pytest_django") is None:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("pytest-django")
    except PackageNotFoundError:
        found = "?"
    pluginmanager.set_blocked("django")  # unregisters it too if it is already registered
    pluginmanager.register(SteppedAside(found), STEPPED_ASIDE)


def stepped_aside_line(config: pytest.Config) -> str | None:
    """The header line saying which plugin serves what, when pytest-django stepped aside."""
    mark = config.pluginmanager.get_plugin(STEPPED_ASIDE)
    if mark is None:
        return None
    return (f"pytest-django {mark.version} is installed and steps aside: pytest-multidb serves django_db, db, "
            "live_server, Django's test classes and pytest-django's fixtures, options and ini keys "
            "(-p no:multidb runs pytest-django alone)")


def _signature(item: pytest.Item, marker: pytest.Mark) -> dict[str, Any]:
    """The marker's arguments by keyword; a one-line usage error for anything pytest-django would refuse."""

    def refuse(mistake: str, fix: str) -> pytest.UsageError:
        return pytest.UsageError(f"multidb: {item.nodeid}: @pytest.mark.{MARKER}(...) {mistake}. Fix: {fix}.")

    if len(marker.args) > len(KEYWORDS):
        raise refuse(f"got {len(marker.args)} positional arguments", "pass its options by keyword")
    given = dict(zip(KEYWORDS, marker.args, strict=False))
    for key, value in marker.kwargs.items():
        if key not in KEYWORDS:
            raise refuse(f"has an unknown keyword {key!r}", f"use only {', '.join(KEYWORDS)}")
        given[key] = value
    databases = given.get("databases")
    if databases is not None and databases != "__all__" and (
        isinstance(databases, str) or not all(isinstance(alias, str) for alias in databases)
    ):
        raise refuse(f"got databases={databases!r}", "write databases=['default', 'other'] or databases='__all__'")
    for key in ("transaction", "reset_sequences", "serialized_rollback"):
        if not isinstance(given.get(key, False), bool):
            raise refuse(f"got {key}={given[key]!r}, which takes True or False", f"write {key}=True")
    return given


#: The source of a declaration made by pytest-django's fixtures alone (no marker).
FIXTURES_SOURCE = "db fixtures"
#: Fixtures that give a test database access, as in pytest-django (``admin_user`` etc. depend on ``db``).
DB_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}
)
#: Fixtures that make the test commit for real (pytest-django: a ``TransactionTestCase``). ``live_server``
#: is not one of them here: the server's threads share the test's connections and see its rows.
COMMITTING_FIXTURES = frozenset({"transactional_db", "django_db_reset_sequences"})
#: The session fixture that runs ``django_db_setup`` (and any override of it) before a django_db test's own.
SETUP_FIXTURE = "_multidb_django_db_setup"


def django_db_declaration(item: pytest.Item, known: list[str]) -> Declaration | None:
    """The declaration of ``item`` in pytest-django's terms: its closest ``django_db`` marker and the database
    fixtures it requests (``transactional_db``, ``django_db_reset_sequences``, ``django_db_serialized_rollback``
    add what pytest-django adds). ``None`` without either."""
    marker = item.get_closest_marker(MARKER)
    names = set(getattr(item, "fixturenames", ()))
    if marker is None and not names & DB_FIXTURES:
        return None
    given = _signature(item, marker) if marker is not None else {}
    databases = given.get("databases")
    aliases = tuple(known) if databases == "__all__" else tuple(databases or ("default",))
    reset = bool(given.get("reset_sequences")) or "django_db_reset_sequences" in names
    transaction = bool(given.get("transaction")) or reset or bool(names & COMMITTING_FIXTURES)
    serialized = bool(given.get("serialized_rollback")) or "django_db_serialized_rollback" in names
    return Declaration(aliases, aliases if transaction else (), reset,
                       source=MARKER if marker is not None else FIXTURES_SOURCE, serialized_rollback=serialized)


# -- hooks ------------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("django", "pytest-django's options, served by pytest-multidb")
    # pytest-django may have added its own before it stepped aside (same names and destinations): keep those.
    taken = {name for option in group.options for name in option.names()}

    def addoption(*names: str, **attrs: Any) -> None:
        if not taken.intersection(names):
            group.addoption(*names, **attrs)

    addoption("--reuse-db", action="store_true", dest="reuse_db", default=False,
              help="pytest-django's option, accepted: pytest-multidb keeps test databases warm between runs by "
              "default and rebuilds them when models or migrations change.")
    addoption("--create-db", action="store_true", dest="create_db", default=False,
              help="pytest-django's option: means --multidb-rebuild.")
    addoption("--ds", dest="ds", default=None, help="Set DJANGO_SETTINGS_MODULE (after --multidb-settings).")
    addoption("--dc", dest="dc", default=None,
              help="Set DJANGO_CONFIGURATION (django-configurations).")
    addoption("--nomigrations", "--no-migrations", action="store_true", dest="nomigrations", default=None,
              help="pytest-django's option: means --multidb-no-migrations.")
    addoption("--migrations", action="store_false", dest="nomigrations", default=None,
              help="pytest-django's option: run migrations (the default; overrides --multidb-no-migrations).")
    addoption("--liveserver", default=None,
              help="Address (host or host:port) of the live_server fixture.")
    addoption("--fail-on-template-vars", action="store_true", dest="itv", default=False,
              help="Fail a test that renders an undefined template variable (pytest-django's checker).")
    parser.addini(support.SETTINGS_MODULE_ENV, "Django settings module (pytest-django's ini key; after "
                  "--multidb-settings, --ds, ini multidb_settings and the environment).")
    parser.addini(support.CONFIGURATION_ENV, "django-configurations class to use.")
    parser.addini("django_find_project", "Find the directory with manage.py and put it on sys.path.",
                  type="bool", default=True)
    parser.addini(INVALID_TEMPLATE_VARS_ENV, "Fail for undefined template variables (as --fail-on-template-vars).",
                  type="bool", default=False)
    parser.addini("django_debug_mode", "How to set Django's DEBUG setting (default False); 'keep' keeps it.",
                  default="False")


def settings_source(config: pytest.Config) -> tuple[str, str] | None:
    """Where the Django settings module comes from (``run.settings_source`` asks this when this plugin is
    registered): ``--multidb-settings`` > ``--ds`` > ini ``multidb_settings`` > env ``DJANGO_SETTINGS_MODULE``
    > ini ``DJANGO_SETTINGS_MODULE``; runs the ``manage.py`` discovery and django-configurations first."""
    return support.settings_source(config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", "urls(module): pytest-django's marker: the test uses this ROOT_URLCONF.")
    config.addinivalue_line("markers", "django_isolate_apps(*app_labels): pytest-django's marker: models declared "
                            "in the test belong to an isolated app registry (django_isolated_apps).")
    config.addinivalue_line("markers", "ignore_template_errors: pytest-django's marker: undefined template variables "
                            "do not fail this test under --fail-on-template-vars.")
    option = config.option
    if option.itv or os.environ.get(INVALID_TEMPLATE_VARS_ENV, "").lower() == "true" or \
            config.getini(INVALID_TEMPLATE_VARS_ENV):
        _check_template_variables(config)
    if getattr(option, "create_db", False):
        option.multidb_rebuild = True
    if getattr(option, "nomigrations", None) is not None:
        option.multidb_no_migrations = option.nomigrations
    from ..run import MultiDB

    run = MultiDB.of(config)
    if run is not None:
        known = list(run.specs)
        run.declaration_sources.append(lambda item: django_db_declaration(item, known))


#: pytest-django's switch for its undefined-template-variable checker (option, ini key, environment variable).
INVALID_TEMPLATE_VARS_ENV = "FAIL_INVALID_TEMPLATE_VARS"


def _check_template_variables(config: pytest.Config) -> None:
    """``--fail-on-template-vars``: pytest-django's own checker (its two fixtures read the environment variable
    this sets), registered here; it is not written again. Without pytest-django: one usage error."""
    try:
        from pytest_django import plugin as pytest_django_plugin
    except ImportError:
        raise pytest.UsageError(
            "multidb: --fail-on-template-vars (or FAIL_INVALID_TEMPLATE_VARS) uses pytest-django's template checker. "
            "Fix: pip install pytest-django (it steps aside for everything else), or drop the option."
        ) from None

    fixtures = ModuleType("multidb_pytest_django_template_variables")  # a module: pytest reads fixtures of one
    fixtures._fail_for_invalid_template_variable = pytest_django_plugin._fail_for_invalid_template_variable
    fixtures._template_string_if_invalid_marker = pytest_django_plugin._template_string_if_invalid_marker
    os.environ[INVALID_TEMPLATE_VARS_ENV] = "true"
    config.pluginmanager.register(fixtures, "multidb.pytest_django_template_variables")


def option_lines(config: pytest.Config) -> list[str]:
    """One line per pytest-django option given, saying what it means here."""
    option, lines = config.option, []
    if getattr(option, "reuse_db", False):
        lines.append("--reuse-db: accepted; test databases are kept warm between runs and reused while models and "
                     "migrations are unchanged (the default; --multidb-no-warm keeps none)")
    if getattr(option, "create_db", False):
        lines.append("--create-db: means --multidb-rebuild (every test schema is rebuilt, the cache refreshed)")
    if getattr(option, "nomigrations", None) is True:
        lines.append("--nomigrations: means --multidb-no-migrations (tables built from the models)")
    elif getattr(option, "nomigrations", None) is False:
        lines.append("--migrations: migrations run (the default; overrides --multidb-no-migrations)")
    return lines


def pytest_report_header(config: pytest.Config) -> list[str]:
    aside = stepped_aside_line(config)
    lines = [*([aside] if aside else []), *support.bootstrap_lines(config), *option_lines(config)]
    return [f"multidb: {line}" for line in lines]


@pytest.hookimpl(wrapper=True)  # after every implementation: the plugin's reads the declarations
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """Tests run in Django's order (``django_order``); a test declared through ``django_db`` gets
    ``django_db_setup`` (and a conftest's override of it) set up before its databases are opened, as in
    pytest-django: session fixtures come first in a test's closure."""
    from ..run import DECLARATION_KEY, MultiDB

    if MultiDB.of(config) is not None:  # Django is set up
        items.sort(key=django_order)  # before every other implementation, as pytest-django's tryfirst hook does
    result = yield
    for item in items:
        _check_isolate_apps(item)
        found = item.stash.get(DECLARATION_KEY, None)
        names = getattr(item, "fixturenames", None)
        if found is not None and found.source in (MARKER, FIXTURES_SOURCE) and names is not None \
                and SETUP_FIXTURE not in names:
            names.insert(0, SETUP_FIXTURE)
    return result


# -- fixtures: the test databases -------------------------------------------------------------------------


def _run(request: pytest.FixtureRequest) -> Any:
    from ..run import MultiDB

    return MultiDB.of(request.config)


def _open(request: pytest.FixtureRequest, transactional: bool = False) -> None:
    """Open the test's pytest-django aliases (its ``django_db`` marker's, else ``default``) through our
    ``uses_db`` machinery; already-open aliases stay as they are (declared at collection, the usual case)."""
    from ..fixtures import open_aliases
    from ..run import DECLARATION_KEY

    found = request.node.stash.get(DECLARATION_KEY, None)
    if found is not None and found.source in (MARKER, FIXTURES_SOURCE):
        aliases, committing = found.aliases, list(found.committing)
    else:  # requested with getfixturevalue, or beside a uses_db marker
        aliases, committing = ("default",), []
    open_aliases(request, aliases, list(aliases) if transactional else committing)
    _flush_like_django(request, aliases if transactional else committing)


def _flush_like_django(request: pytest.FixtureRequest, committing: Iterable[str]) -> None:
    """After its emptying, each committing alias of a pytest-django-style test gets ``post_migrate``, as
    pytest-django's ``TransactionTestCase`` flush sends it (``inhibit_post_migrate`` is Django's: not with
    ``available_apps``, nor with ``serialized_rollback`` on an alias whose contents were serialized)."""
    from django.db import connections

    from ..fixtures import current_databases
    from ..run import DECLARATION_KEY

    node = request.node
    marker = node.get_closest_marker(MARKER)
    if marker is not None and _signature(node, marker).get("available_apps") is not None:
        return
    found = node.stash.get(DECLARATION_KEY, None)
    serialized = "django_db_serialized_rollback" in request.fixturenames or (
        found is not None and found.source in (MARKER, FIXTURES_SOURCE) and found.serialized_rollback)
    current_databases(request).post_migrate.update(
        alias for alias in committing
        if not (serialized and hasattr(connections[alias], "_test_serialized_contents")))


@pytest.fixture
def db(_multidb_django_db_setup: None, request: pytest.FixtureRequest) -> None:
    """Require a Django test database (pytest-django's fixture, served by pytest-multidb).

    Opens ``default`` (or the aliases of the test's ``django_db`` marker) in a transaction rolled back after
    the test. If both ``db`` and ``transactional_db`` are requested, ``transactional_db`` takes precedence.
    """
    _open(request)


@pytest.fixture
def transactional_db(_multidb_django_db_setup: None, request: pytest.FixtureRequest) -> None:
    """Require a Django test database with real transactions (pytest-django's fixture).

    The test commits for real; afterwards the tables it wrote are emptied and ``post_migrate`` is sent, as
    after pytest-django's flush (which empties every table).
    """
    _open(request, transactional=True)


@pytest.fixture
def django_db_reset_sequences(_multidb_django_db_setup: None, transactional_db: None,
                              request: pytest.FixtureRequest) -> None:
    """Require a transactional test database whose sequences start again at 1 (pytest-django's fixture)."""
    from ..fixtures import current_databases

    current_databases(request).reset_sequences = True  # for aliases opened from now on
    _open(request, transactional=True)


@pytest.fixture
def django_db_serialized_rollback(_multidb_django_db_setup: None, db: None) -> None:
    """Require a test database with serialized rollback (pytest-django's fixture).

    The aliases' install-time contents (data migrations, content types...) are there when the test starts,
    also after a committing test emptied the tables: pytest-multidb restores them after every such test.
    """


@pytest.fixture(scope="session")
def django_db_modify_db_settings() -> None:
    """Modify the database settings just before the test databases are provisioned (pytest-django's hook
    fixture; override it in a conftest). pytest-multidb names its test databases itself."""


@pytest.fixture(scope="session")
def django_db_use_migrations(request: pytest.FixtureRequest) -> bool:
    """Whether the test schemas are built by running migrations (``--nomigrations`` / ``--multidb-no-migrations``
    turn them off)."""
    return not request.config.getoption("multidb_no_migrations")


@pytest.fixture(scope="session")
def django_db_keepdb(request: pytest.FixtureRequest) -> bool:
    """Whether ``--reuse-db`` was given (pytest-django's fixture). pytest-multidb always reuses the cached
    schema safely and never keeps a test database after the run."""
    return bool(request.config.getoption("reuse_db"))


@pytest.fixture(scope="session")
def django_db_createdb(request: pytest.FixtureRequest) -> bool:
    """Whether ``--create-db`` was given (pytest-django's fixture): here it means ``--multidb-rebuild``."""
    return bool(request.config.getoption("create_db"))


@pytest.fixture(scope="session")
def django_db_blocker(request: pytest.FixtureRequest) -> DjangoDbBlocker | None:
    """Block or unblock database access (pytest-django's fixture), mapped onto pytest-multidb's access guard.

    ``with django_db_blocker.unblock(): ...`` lets the block use every test database provisioned so far (in a
    ``django_db_setup`` override: all the collected tests need); ``with django_db_blocker.block(): ...`` blocks
    every alias; ``restore()`` undoes the last call. ``None`` without Django settings.
    """
    run = _run(request)
    return DjangoDbBlocker(run) if run is not None else None


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: DjangoDbBlocker,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
    _multidb_session: Any,
) -> None:
    """Make the test databases available (pytest-django's top-level database fixture).

    Here: every alias the collected tests need is provisioned (``_multidb_session``: the schema comes from the
    cache). Override it in a conftest to load data for the whole session::

        @pytest.fixture(scope="session")
        def django_db_setup(django_db_setup, django_db_blocker):
            with django_db_blocker.unblock():
                call_command("loaddata", "data.json")

    What the override loads is kept for every test: pytest-multidb restores it after committing tests too.
    """


@pytest.fixture(scope="session")
def _multidb_django_db_setup(request: pytest.FixtureRequest, django_db_setup: None) -> None:
    """Run ``django_db_setup`` (or a conftest's override) before a pytest-django-style test's databases open;
    afterwards, what it loaded becomes part of each alias's baseline (kept after committing tests)."""
    run = _run(request)
    if run is None or run.session is None:
        return
    for alias in run.session.provisioned:
        with run.guard.opened([alias]):
            run.take_baseline(alias)


@pytest.fixture(autouse=True, scope="session")
def django_test_environment(request: pytest.FixtureRequest) -> Iterator[None]:
    """Django's test environment for the session (pytest-django's autouse fixture): the locmem e-mail
    backend, ``DEBUG`` from ini ``django_debug_mode`` (default False, ``keep``), template instrumentation."""
    from django.conf import settings

    if _run(request) is None and not settings.configured:
        yield
        return
    from django.test.utils import _TestState, setup_test_environment, teardown_test_environment

    if hasattr(_TestState, "saved_data"):  # someone set it up already
        yield
        return
    mode = request.config.getini("django_debug_mode")
    setup_test_environment(debug=None if mode == "keep" else support._boolean(mode, "django_debug_mode"))
    yield
    teardown_test_environment()


@pytest.fixture(autouse=True)
def _multidb_pytest_django_test(request: pytest.FixtureRequest, _multidb_test: None) -> Iterator[None]:
    """Per test, what pytest-django's autouse fixtures do: the ``urls`` marker, the ``django_db`` marker's
    ``available_apps``, the live server's ``ALLOWED_HOSTS`` (and waiting for its requests to end, before the
    test's databases are put back)."""
    from ..run import DECLARATION_KEY

    node = request.node
    undo: list[Callable[[], None]] = []
    urls = node.get_closest_marker("urls")
    if urls is not None:
        undo.append(_set_urlconf(urls))
    marker = node.get_closest_marker(MARKER)
    apps_given = _signature(node, marker).get("available_apps") if marker is not None else None
    if apps_given is not None:
        undo.append(_set_available_apps(list(apps_given)))
    found = node.stash.get(DECLARATION_KEY, None)
    if found is not None and found.source in (MARKER, FIXTURES_SOURCE) and found.committing:
        _flush_like_django(request, found.committing)
    server = request.getfixturevalue("live_server") if "live_server" in request.fixturenames else None
    if isinstance(server, LiveServer):  # not a conftest's own live_server fixture
        server.modified_settings.enable()
        undo.append(server.modified_settings.disable)
        undo.append(server.wait_for_requests)
    try:
        yield
    finally:
        for step in reversed(undo):
            step()


def _set_urlconf(marker: pytest.Mark) -> Callable[[], None]:
    from django.conf import settings
    from django.urls import clear_url_caches, set_urlconf

    urls = marker.kwargs.get("urls", marker.args[0] if marker.args else None)
    if not isinstance(urls, str):
        raise pytest.UsageError(f"multidb: @pytest.mark.urls(...) takes a module path, got {urls!r}")
    original = settings.ROOT_URLCONF
    settings.ROOT_URLCONF = urls
    clear_url_caches()
    set_urlconf(None)

    def undo() -> None:
        settings.ROOT_URLCONF = original
        clear_url_caches()
        set_urlconf(None)

    return undo


def _set_available_apps(available: list[str]) -> Callable[[], None]:
    from django.apps import apps
    from django.conf import settings
    from django.core.signals import setting_changed

    apps.set_available_apps(available)
    setting_changed.send(sender=settings._wrapped.__class__, setting="INSTALLED_APPS", value=available, enter=True)

    def undo() -> None:
        apps.unset_available_apps()
        setting_changed.send(sender=settings._wrapped.__class__, setting="INSTALLED_APPS",
                             value=settings.INSTALLED_APPS, enter=False)

    return undo


# -- fixtures: Django's test tools ------------------------------------------------------------------------


@pytest.fixture
def settings() -> Iterator[SettingsWrapper]:
    """Django settings for this test: ``settings.X = ...`` and ``del settings.X`` are undone after it
    (through ``override_settings``: ``setting_changed`` is sent both ways)."""
    wrapper = SettingsWrapper()
    yield wrapper
    wrapper.finalize()


def django_order(item: pytest.Item) -> int:
    """Where ``item`` runs, as Django's runner and pytest-django order tests: ``TransactionTestCase`` classes and
    committing ``django_db`` tests (1) after every other test (0), each group in collection order, so that their
    flush cannot empty what a ``TestCase`` of a later file expects (content types, data migrations' rows).
    pytest-django also puts tests that use no database after them; those cannot tell, and ``uses_db`` tests keep
    their place among the others."""
    from django.test import TestCase, TransactionTestCase

    cls = getattr(item, "cls", None)
    if isinstance(cls, type) and issubclass(cls, TransactionTestCase):
        return 0 if issubclass(cls, TestCase) else 1
    marker = item.get_closest_marker(MARKER)
    try:
        given = _signature(item, marker) if marker is not None else {}
    except pytest.UsageError:  # reported by the declarations, with the others
        given = {}
    transactional = given.get("transaction") or given.get("reset_sequences")
    return 1 if transactional or "transactional_db" in getattr(item, "fixturenames", ()) else 0


def _check_isolate_apps(item: pytest.Item) -> None:
    """At collection: ``django_isolate_apps`` takes app labels, ``django_isolated_apps`` needs the marker."""
    marker = item.get_closest_marker("django_isolate_apps")
    if marker is not None and (not marker.args or marker.kwargs
                               or not all(isinstance(label, str) for label in marker.args)):
        raise pytest.UsageError(f"multidb: {item.nodeid}: @pytest.mark.django_isolate_apps(...) takes app labels. "
                                "Fix: write @pytest.mark.django_isolate_apps('app_label', ...).")
    if marker is None and "django_isolated_apps" in getattr(item, "fixturenames", ()):
        raise pytest.UsageError(f"multidb: {item.nodeid}: the django_isolated_apps fixture needs "
                                "@pytest.mark.django_isolate_apps(...). Fix: add the marker with the app labels.")


@pytest.fixture(autouse=True)
def _multidb_django_isolate_apps(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``@pytest.mark.django_isolate_apps("app_label", ...)``: Django's ``isolate_apps`` around the test."""
    marker = request.node.get_closest_marker("django_isolate_apps")
    if marker is None:
        yield None
        return
    from django.test.utils import isolate_apps

    with isolate_apps(*marker.args) as registry:
        yield registry


@pytest.fixture
def django_isolated_apps(_multidb_django_isolate_apps: Any) -> Any:
    """The isolated app registry of a test marked ``@pytest.mark.django_isolate_apps(...)``."""
    return _multidb_django_isolate_apps


@pytest.fixture
def client() -> Any:
    """A Django test client (``django.test.Client``)."""
    from django.test import Client

    return Client()


@pytest.fixture
def async_client() -> Any:
    """A Django async test client (``django.test.AsyncClient``)."""
    from django.test import AsyncClient

    return AsyncClient()


@pytest.fixture
def rf() -> Any:
    """A Django ``RequestFactory``."""
    from django.test import RequestFactory

    return RequestFactory()


@pytest.fixture
def async_rf() -> Any:
    """A Django ``AsyncRequestFactory``."""
    from django.test import AsyncRequestFactory

    return AsyncRequestFactory()


@pytest.fixture
def django_user_model(db: None) -> Any:
    """The class of Django's user model (requires ``db``)."""
    from django.contrib.auth import get_user_model

    return get_user_model()


@pytest.fixture
def django_username_field(django_user_model: Any) -> str:
    """The name of the user model's username field."""
    return str(django_user_model.USERNAME_FIELD)


@pytest.fixture
def admin_user(db: None, django_user_model: Any, django_username_field: str) -> Any:
    """A superuser: the existing user "admin", else a new one with password "password" (requires ``db``)."""
    username = "admin@example.com" if django_username_field == "email" else "admin"
    try:
        return django_user_model._default_manager.get_by_natural_key(username)
    except django_user_model.DoesNotExist:
        data = {"password": "password", django_username_field: username}
        if "email" in django_user_model.REQUIRED_FIELDS:
            data["email"] = "admin@example.com"
        return django_user_model._default_manager.create_superuser(**data)


@pytest.fixture
def admin_client(db: None, admin_user: Any) -> Any:
    """A Django test client logged in as ``admin_user``."""
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A live Django server in a background thread, for the session (``live_server.url``).

    Address: ``--liveserver``, else ``DJANGO_LIVE_TEST_SERVER_ADDRESS``, else ``localhost`` (a free port). A
    test using it declares ``default`` (rolled back): the server's request threads use the test's own
    connections, so they see its uncommitted rows, and the test sees what they wrote.
    """
    address = request.config.getoption("liveserver") or os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(address)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _dj_autoclear_mailbox() -> None:
    """Empty Django's test outbox before every test (pytest-django's autouse fixture)."""
    from django.conf import settings

    if not settings.configured:
        return
    from django.core import mail

    if hasattr(mail, "outbox"):
        mail.outbox.clear()


@pytest.fixture
def mailoutbox(django_mail_patch_dns: None, _dj_autoclear_mailbox: None) -> list[Any]:
    """The e-mails Django sent during the test (the locmem backend's outbox, emptied before each test)."""
    from django.core import mail

    return mail.outbox if hasattr(mail, "outbox") else []


@pytest.fixture
def django_mail_patch_dns(monkeypatch: pytest.MonkeyPatch, django_mail_dnsname: str) -> None:
    """Use ``django_mail_dnsname`` as the host name in the e-mails' Message-IDs."""
    from django.core import mail

    monkeypatch.setattr(mail.message, "DNS_NAME", django_mail_dnsname)


@pytest.fixture
def django_mail_dnsname() -> str:
    """The host name used in e-mail Message-IDs during tests."""
    return "fake-tests.example.com"


@pytest.fixture
def django_assert_num_queries(pytestconfig: pytest.Config) -> support.AssertNumQueries:
    """``with django_assert_num_queries(3, using="a"): ...`` fails unless exactly 3 queries ran on that alias
    (default: ``default``; or ``connection=``). ``info=`` is added to the failure message."""
    return lambda num, connection=None, info=None, *, using=None: support.assert_num_queries(
        pytestconfig, num, True, connection, info, using=using)


@pytest.fixture
def django_assert_max_num_queries(pytestconfig: pytest.Config) -> support.AssertNumQueries:
    """``with django_assert_max_num_queries(3, using="a"): ...`` fails if more than 3 queries ran."""
    return lambda num, connection=None, info=None, *, using=None: support.assert_num_queries(
        pytestconfig, num, False, connection, info, using=using)


@pytest.fixture
def django_capture_on_commit_callbacks() -> Callable[..., Any]:
    """``with django_capture_on_commit_callbacks(using="default", execute=False) as callbacks: ...``: the
    ``transaction.on_commit`` callbacks registered in the block (Django's ``TestCase.captureOnCommitCallbacks``)."""
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks
