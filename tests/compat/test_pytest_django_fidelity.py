"""Where pytest-django is the contract: each place a public suite told us apart from it (django-extensions,
django-oauth-toolkit), reproduced in a small project run through both plugins. Each failed under pytest-multidb
before its fix and passes under pytest-django."""

from __future__ import annotations

import pytest

INI = """
[pytest]
DJANGO_SETTINGS_MODULE = suite_settings
"""

SETTINGS = """
SECRET_KEY = "x"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
"""

CONFTEST = '''
import pytest
from django.contrib.auth.models import Group


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        Group.objects.create(name="from-setup")
'''

# django-extensions' test_managestate: with --nomigrations, pytest-django leaves Django seeing no migrations.
NOMIGRATIONS = '''
import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader


@pytest.mark.django_db
def test_no_app_has_migrations():
    assert MigrationLoader(connection).migrated_apps == set()
'''

# django-extensions' AutoSlugFieldTest: a fixture on ``db`` in a Django test class writes into the class's
# transaction (pytest-django's database fixtures do nothing there), so its row stays until the class ends.
CLASSES = '''
import pytest
from django.contrib.auth.models import Group, User
from django.test import TestCase

CREATED = []


@pytest.fixture
def admin_like(db):
    user, created = User.objects.get_or_create(username="admin")
    CREATED.append(created)
    return user


@pytest.mark.usefixtures("admin_like")
class TestFixtureOnDb(TestCase):
    def test_1(self):
        self.assertEqual(User.objects.count(), 1)

    def test_2(self):
        self.assertEqual(CREATED, [True, False])


class TestSetupOverride(TestCase):
    """A Django test class that uses a database gets the conftest's ``django_db_setup`` (pytest-django's
    ``_django_setup_unittest`` requests it)."""

    def test_the_override_ran(self):
        self.assertEqual(list(Group.objects.values_list("name", flat=True)), ["from-setup"])
'''

# django-oauth-toolkit's test_migration_0012_hang: a class skipped where the alias it names is missing.
SKIPPED = '''
from unittest import skipUnless

import pytest
from django.db import connections
from django.test import TransactionTestCase


@skipUnless("replica" in connections, "needs a primary/replica topology")
class TestReplicaOnly(TransactionTestCase):
    databases = {"default", "replica"}

    def test_replica(self):
        pass


@pytest.mark.skip(reason="never")
@pytest.mark.django_db(databases=["nowhere"])
def test_never():
    pass


def test_runs():
    pass
'''

# django-extensions' test_set_fake_emails: a module-scoped override (pytest-django asks for django_db_setup from a
# function-scoped fixture), run again for each module; what it loads stays, committed.
MODULE_SETUP = '''
import pytest
from django.contrib.auth.models import Group


@pytest.fixture(scope="module")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        Group.objects.create(name="from-module")


@pytest.mark.django_db
def test_sees_both():
    assert sorted(Group.objects.values_list("name", flat=True)) == ["from-module", "from-setup"]


@pytest.mark.django_db(transaction=True)
def test_committing_keeps_what_the_module_loaded():
    Group.objects.create(name="written")


@pytest.mark.django_db
def test_after_the_committing_test():
    assert sorted(Group.objects.values_list("name", flat=True)) == ["from-module", "from-setup"]
'''

# django-celery-beat's DatabaseScheduler: close_old_connections() inside a test's transaction (autocommit is off,
# so Django closes the connection), then more queries: Django's in-memory sqlite ignores the close.
CLOSE = '''
import pytest
from django.contrib.auth.models import Group
from django.db import close_old_connections, connection


@pytest.mark.django_db
def test_query_after_close_old_connections():
    Group.objects.create(name="a")
    close_old_connections()
    connection.close()
    assert Group.objects.count() == 2
'''

# A test using no database runs after the ones that use one under pytest-django: what it leaves behind (a model
# class it defines, a module's state) is met by none of them.
ORDER = '''
import pytest

RAN = []


def test_a_no_database_leaves_state_behind():
    RAN.append("a")


@pytest.mark.django_db
def test_b_marked():
    assert RAN == []
    RAN.append("b")


def test_c_db_fixture(db):
    RAN.append("c")


def test_d_committing(transactional_db):
    RAN.append("d")


@pytest.mark.django_db
def test_e_marked():
    RAN.append("e")


def test_z_order():
    assert RAN == ["b", "c", "e", "d", "a"]
'''

# django-dynamic-db-router's in_database(<settings>): a database added to ``connections`` at run time is no
# configured one (Django's guard does not know it either).
RUNTIME_ALIAS = '''
import uuid

from django.db import connections

SETTINGS = {"TIME_ZONE": None, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False, "OPTIONS": {}}


def runtime_alias(settings):
    alias = str(uuid.uuid4())
    connections.databases[alias] = {**SETTINGS, **settings}
    return alias


def test_a_database_added_at_run_time(tmp_path, django_db_blocker):
    alias = runtime_alias({"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "external.db")})
    try:
        with django_db_blocker.unblock(), connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
    finally:
        connections[alias].close()
        del connections.databases[alias]
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(suite_settings=SETTINGS)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_nomigrations=NOMIGRATIONS, test_classes=CLASSES, test_skipped=SKIPPED,
                        test_module_setup=MODULE_SETUP, test_close=CLOSE,
                        test_order=ORDER, test_runtime_alias=RUNTIME_ALIAS)
    return pytester


@pytest.mark.parametrize("plugin", ["multidb", "django"])
@pytest.mark.parametrize(("suite", "passed", "skipped"), [("test_nomigrations.py", 1, 0),
                                                          ("test_classes.py", 3, 0), ("test_skipped.py", 1, 2),
                                                          ("test_module_setup.py", 3, 0), ("test_close.py", 1, 0),
                                                          ("test_order.py", 6, 0), ("test_runtime_alias.py", 1, 0)])
def test_as_pytest_django_runs_it(inner, project, plugin, suite, passed, skipped):
    other = "django" if plugin == "multidb" else "multidb"
    extra = () if plugin == "multidb" else ("-p", "no:randomly")
    run = inner("--nomigrations", "-p", f"no:{other}", *extra, suite, settings=False, plugins=plugin == "multidb")
    run.result.assert_outcomes(passed=passed, skipped=skipped)


# A committing test's connection is closed after it, as TransactionTestCase._post_teardown closes every connection:
# what it left in its session (a PRAGMA, a SET) is gone for the next test. With a database file (Django
# keeps an in-memory one open: its close() does nothing).
FILE_SETTINGS = SETTINGS.replace('"NAME": ":memory:"', '"NAME": ":memory:", "TEST": {"NAME": "suite_test.db"}')
RELOAD = '''
import pytest
from django.db import connection


def cache_size():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_rollback_test_leaves_session_state():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size = 1234")  # the connection's, whatever the transaction does


@pytest.mark.django_db
def test_b_kept_after_a_rollback_test():
    assert cache_size() == 1234


@pytest.mark.django_db(transaction=True)
def test_c_a_committing_test():
    assert cache_size() == 1234


@pytest.mark.django_db(transaction=True)  # run after the rollback tests by both plugins, after test_c
def test_d_a_new_connection_after_it():
    assert cache_size() != 1234
'''


@pytest.mark.parametrize("plugin", ["multidb", "django"])
def test_a_committing_test_s_connections_are_closed_after_it(inner, pytester, plugin):
    pytester.makeini(INI.replace("suite_settings", "file_settings"))
    pytester.makepyfile(file_settings=FILE_SETTINGS, test_reload=RELOAD)
    other = "django" if plugin == "multidb" else "multidb"
    extra = () if plugin == "multidb" else ("-p", "no:randomly")
    run = inner("-p", f"no:{other}", *extra, "test_reload.py", settings=False, plugins=plugin == "multidb")
    run.result.assert_outcomes(passed=4)


# Django's test classes (so pytest-django's ``db``) empty the queries log of the test's databases as a test starts.
QUERIES = '''
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@pytest.mark.django_db
def test_a_queries_captured():
    with CaptureQueriesContext(connection):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert len(connection.queries_log) == 1


@pytest.mark.django_db
def test_b_the_log_is_empty_at_the_next_test():
    assert len(connection.queries_log) == 0
'''


@pytest.mark.parametrize("plugin", ["multidb", "django"])
def test_the_queries_log_is_emptied_as_a_test_starts(inner, project, plugin):
    project.makepyfile(test_queries=QUERIES)
    other = "django" if plugin == "multidb" else "multidb"
    extra = () if plugin == "multidb" else ("-p", "no:randomly")
    run = inner("-p", f"no:{other}", *extra, "test_queries.py", settings=False, plugins=plugin == "multidb")
    run.result.assert_outcomes(passed=2)
