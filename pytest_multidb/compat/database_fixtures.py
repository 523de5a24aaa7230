"""pytest-django's database fixtures (its ``fixtures.py``): ``db``, ``transactional_db``, ``django_db_setup``,
``django_db_blocker``, ... served through pytest-multidb's ``uses_db`` machinery (``plugin_fixtures.open_aliases``).

A test that requests one of them is declared at collection (``django_db.DB_FIXTURES``); these fixtures then open
what it declared. ``compat.pytest_django`` registers this module as part of its plugin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from django.db import connections

from ..plugin_fixtures import current_databases, current_run, open_aliases
from ..stash_keys import DB_SETUP_RAN_KEY, DECLARATION_KEY
from ..testcases import django_test_class
from .blocker import DjangoDbBlocker
from .django_db import closest_arguments, declared_here


def _in_django_class(request: pytest.FixtureRequest) -> bool:
    """Whether the test is a Django test class's: its class isolates it, and pytest-django's database fixtures
    do nothing there (``_django_db_helper``): what a fixture writes stays until the class's transaction ends."""
    return django_test_class(request.node) is not None


def _open(request: pytest.FixtureRequest, transactional: bool = False) -> None:
    """Open the test's pytest-django aliases (its ``django_db`` marker's, else ``default``) through our
    ``uses_db`` machinery; already-open aliases stay as they are (declared at collection, the usual case)."""
    if _in_django_class(request):
        return
    found = request.node.stash.get(DECLARATION_KEY, None)
    if declared_here(found):
        aliases, committing = found.aliases, list(found.committing)
    else:  # requested with getfixturevalue, or beside a uses_db marker
        aliases, committing = ("default",), []
    open_aliases(request, aliases, list(aliases) if transactional else committing)
    flush_like_django(request, aliases if transactional else committing)


def flush_like_django(request: pytest.FixtureRequest, committing: Iterable[str]) -> None:
    """After its emptying, each committing alias of a pytest-django-style test gets ``post_migrate``, as
    pytest-django's ``TransactionTestCase`` flush sends it (``inhibit_post_migrate`` is Django's: not with
    ``available_apps``, nor with ``serialized_rollback`` on an alias whose contents were serialized). Then every
    connection is closed, as ``TransactionTestCase._post_teardown`` closes them."""
    committing = list(committing)
    if committing:
        current_databases(request).reload_connections = True
    node = request.node
    given = closest_arguments(node)
    if given is not None and given.available_apps is not None:
        return
    found = node.stash.get(DECLARATION_KEY, None)
    serialized = "django_db_serialized_rollback" in request.fixturenames or (
        declared_here(found) and found.serialized_rollback)
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
    if _in_django_class(request):
        return
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
    run = current_run(request)
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
    With pytest-django's ``--nomigrations``, Django sees no migrations for the rest of the session, as
    pytest-django leaves it (``MIGRATION_MODULES``; ``--multidb-no-migrations`` restores it, as Django's runner).
    """
    if request.config.getoption("nomigrations", None) is True:
        disable_migrations()


def disable_migrations() -> None:
    """What pytest-django's ``django_db_setup`` does for ``--nomigrations`` (its ``_disable_migrations``): no app
    has migrations from now on, and ``migrate`` is silent. Written here: pytest-django may not be installed, and
    its function is private."""
    from django.conf import settings
    from django.core.management.commands import migrate

    class DisableMigrations:
        def __contains__(self, item: str) -> bool:
            return True

        def __getitem__(self, item: str) -> None:
            return None

    settings.MIGRATION_MODULES = DisableMigrations()

    class MigrateSilentCommand(migrate.Command):
        def handle(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["verbosity"] = 0
            return super().handle(*args, **kwargs)

    migrate.Command = MigrateSilentCommand


@pytest.fixture
def _multidb_django_db_setup(request: pytest.FixtureRequest, django_db_setup: None) -> None:
    """Run ``django_db_setup`` (or a conftest's override, of any scope: function-scoped here, as pytest-django's
    ``_django_db_helper``) before a pytest-django-style test's databases open."""
    _take_what_db_setup_loaded(request)


@pytest.fixture(scope="class")
def _multidb_django_class_db_setup(request: pytest.FixtureRequest) -> None:
    """Run ``django_db_setup`` (or a conftest's override, session to class scope) before a Django test class that
    uses a database is set up, asked for from the class as pytest-django's ``_django_setup_unittest`` does: not
    in each test's fixture closure, whose every fixture costs each test pytest's machinery."""
    request.getfixturevalue("django_db_setup")
    _take_what_db_setup_loaded(request)


def _take_what_db_setup_loaded(request: pytest.FixtureRequest) -> None:
    """Each time an override of ``django_db_setup`` ran, what it loaded becomes part of each alias's baseline
    (kept after committing tests)."""
    if not request.config.stash.get(DB_SETUP_RAN_KEY, False):
        return
    request.config.stash[DB_SETUP_RAN_KEY] = False
    run = current_run(request)
    if run is None or not run.session.started:
        return  # nothing provisioned yet: the baselines are taken when it is
    for alias in run.session.provisioned:
        with run.guard.opened([alias]):
            run.session.refresh_baseline(alias)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    """Note that an override of ``django_db_setup`` (once per module for a module-scoped one) just ran: ours
    loads nothing, so after it alone the baselines stay as the schema install took them."""
    result = yield
    if fixturedef.argname == "django_db_setup" and getattr(fixturedef.func, "__module__", None) != __name__:
        request.config.stash[DB_SETUP_RAN_KEY] = True
    return result
