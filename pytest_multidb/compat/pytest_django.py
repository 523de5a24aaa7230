"""pytest-django's vocabulary served by pytest-multidb: the plugin ``multidb.pytest_django`` (see ``plugin.py``).

As pytest-django's ``plugin.py``: its options and ini keys, its hooks and its autouse fixtures; its other fixtures are
in ``database_fixtures`` (``db``, ``transactional_db``, ``django_db_setup``, ...) and ``django_fixtures`` (``client``,
``settings``, ``live_server``, ...), registered by this plugin. The ``django_db`` marker and
the database fixtures become a declaration like ``uses_db``'s (``django_db``); when pytest-django is installed too,
it steps aside (``step_aside``). ``docs/pytest-django.md`` has the table.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from ..bootstrap import CONFIGURATION_ENV, SETTINGS_MODULE_ENV, bootstrap_lines, ini_boolean
from ..markers import Declaration
from ..messages import compat as texts
from ..plugin_fixtures import TEST_FIXTURE
from ..run import MultiDB
from ..stash_keys import DECLARATION_KEY
from . import database_fixtures, django_fixtures
from .database_fixtures import flush_like_django
from .django_db import (
    CLASS_SETUP_FIXTURE,
    MARKER_HELP,
    SETUP_FIXTURE,
    check_isolate_apps,
    closest_arguments,
    declared_here,
    django_db_declaration,
)
from .live_server import LiveServer
from .run_order import ordered
from .step_aside import stepped_aside_line

# -- hooks ------------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    for fixtures in (database_fixtures, django_fixtures):  # the rest of pytest-django's fixtures, with this plugin
        pluginmanager.register(fixtures, f"multidb.{fixtures.__name__.rpartition('.')[2]}")
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
    parser.addini(SETTINGS_MODULE_ENV, "Django settings module (pytest-django's ini key; after "
                  "--multidb-settings, --ds, ini multidb_settings and the environment).")
    parser.addini(CONFIGURATION_ENV, "django-configurations class to use.")
    parser.addini("django_find_project", "Find the directory with manage.py and put it on sys.path.",
                  type="bool", default=True)
    parser.addini(INVALID_TEMPLATE_VARS_ENV, "Fail for undefined template variables (as --fail-on-template-vars).",
                  type="bool", default=False)
    parser.addini("django_debug_mode", "How to set Django's DEBUG setting (default False); 'keep' keeps it.",
                  default="False")


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
        raise pytest.UsageError(texts.TEMPLATE_VARS_NEED_PYTEST_DJANGO) from None

    fixtures = ModuleType("multidb_pytest_django_template_variables")  # a module: pytest reads fixtures of one
    fixtures._fail_for_invalid_template_variable = pytest_django_plugin._fail_for_invalid_template_variable
    fixtures._template_string_if_invalid_marker = pytest_django_plugin._template_string_if_invalid_marker
    os.environ[INVALID_TEMPLATE_VARS_ENV] = "true"
    config.pluginmanager.register(fixtures, "multidb.pytest_django_template_variables")


def option_lines(config: pytest.Config) -> list[str]:
    """One line per pytest-django option given, saying what it means here."""
    option, lines = config.option, []
    if getattr(option, "reuse_db", False):
        lines.append(texts.REUSE_DB)
    if getattr(option, "create_db", False):
        lines.append(texts.CREATE_DB)
    if getattr(option, "nomigrations", None) is True:
        lines.append(texts.NOMIGRATIONS)
    elif getattr(option, "nomigrations", None) is False:
        lines.append(texts.MIGRATIONS)
    return lines


def pytest_report_header(config: pytest.Config) -> list[str]:
    aside = stepped_aside_line(config)
    lines = [*([aside] if aside else []), *bootstrap_lines(config), *option_lines(config)]
    return [texts.HEADER_LINE.format(line=line) for line in lines]


@pytest.hookimpl(wrapper=True)  # after every implementation: the plugin's reads the declarations
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """Tests run in Django's order (``run_order``); a test declared through ``django_db`` gets
    ``django_db_setup`` (and a conftest's override of it) set up before its databases are opened, as in
    pytest-django: session fixtures come first in a test's closure."""
    if MultiDB.of(config) is not None:  # Django is set up
        ordered(items)  # before every other implementation, as pytest-django's tryfirst hook does
    result = yield
    for item in items:
        check_isolate_apps(item)
        names = getattr(item, "fixturenames", None)
        if names is None:
            continue
        found = item.stash.get(DECLARATION_KEY, None)
        if found is not None and found.django_class:  # one with databases (a declaration), as there
            names.insert(0, CLASS_SETUP_FIXTURE)
        elif declared_here(found) and SETUP_FIXTURE not in names:
            names.insert(0, SETUP_FIXTURE)
        # Where an autouse fixture would run (right after the test's databases are opened), and only in the tests
        # that need them: a fixture pytest sets up costs every test of a large suite its machinery.
        # (One the test's fixtures depend on, e.g. ``django_isolated_apps``, is in the closure already, at its end.)
        for name in reversed(per_test_fixtures(item, found, names)):
            if name in names:
                names.remove(name)
            names.insert(names.index(TEST_FIXTURE) + 1 if TEST_FIXTURE in names else 0, name)
    return result


def per_test_fixtures(item: pytest.Item, found: Declaration | None, names: list[str]) -> list[str]:
    """The per-test fixtures of pytest-django's markers that ``item`` needs, in the order they run."""
    needed = []
    try:
        given = closest_arguments(item)
    except pytest.UsageError:  # reported by the declarations, with the others
        given = None
    if (item.get_closest_marker("urls") is not None or (given is not None and given.available_apps is not None)
            or (declared_here(found) and found.committing) or "live_server" in names):
        needed.append("_multidb_pytest_django_test")
    if item.get_closest_marker("django_isolate_apps") is not None:
        needed.append("_multidb_django_isolate_apps")
    return needed


# -- autouse fixtures -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def django_test_environment(request: pytest.FixtureRequest) -> Iterator[None]:
    """Django's test environment for the session (pytest-django's autouse fixture): the locmem e-mail
    backend, ``DEBUG`` from ini ``django_debug_mode`` (default False, ``keep``), template instrumentation."""
    from django.conf import settings

    if MultiDB.of(request.config) is None and not settings.configured:
        yield
        return
    from django.test.utils import _TestState, setup_test_environment, teardown_test_environment

    if hasattr(_TestState, "saved_data"):  # someone set it up already
        yield
        return
    mode = request.config.getini("django_debug_mode")
    setup_test_environment(debug=None if mode == "keep" else ini_boolean(mode, "django_debug_mode"))
    yield
    teardown_test_environment()


@pytest.fixture
def _multidb_pytest_django_test(request: pytest.FixtureRequest, _multidb_test: None) -> Iterator[None]:
    """Per test, what pytest-django's autouse fixtures do: the ``urls`` marker, the ``django_db`` marker's
    ``available_apps``, the live server's ``ALLOWED_HOSTS`` (and waiting for its requests to end, before the
    test's databases are put back). Not autouse: given at collection to the tests that need it
    (``per_test_fixtures``)."""
    node = request.node
    undo: list[Callable[[], None]] = []
    urls = node.get_closest_marker("urls")
    if urls is not None:
        undo.append(_set_urlconf(urls))
    given = closest_arguments(node)
    if given is not None and given.available_apps is not None:
        undo.append(_set_available_apps(list(given.available_apps)))
    found = node.stash.get(DECLARATION_KEY, None)
    if declared_here(found) and found.committing:
        flush_like_django(request, found.committing)
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
        raise pytest.UsageError(texts.URLS_NOT_A_MODULE.format(urls=urls))
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


@pytest.fixture
def _multidb_django_isolate_apps(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``@pytest.mark.django_isolate_apps("app_label", ...)``: Django's ``isolate_apps`` around the test (given at
    collection to the tests with the marker, and to ``django_isolated_apps``)."""
    marker = request.node.get_closest_marker("django_isolate_apps")
    if marker is None:
        yield None
        return
    from django.test.utils import isolate_apps

    with isolate_apps(*marker.args) as registry:
        yield registry


@pytest.fixture(autouse=True)
def _dj_autoclear_mailbox() -> None:
    """Empty Django's test outbox before every test (pytest-django's autouse fixture)."""
    from django.conf import settings

    if not settings.configured:
        return
    from django.core import mail

    if hasattr(mail, "outbox"):
        mail.outbox.clear()
