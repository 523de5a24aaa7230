"""Where Django's own runner is the contract: each place a real suite told us apart from it, reproduced
in a small project. Every test here failed before its fix (checked against the commit before it)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import django
import pytest

from tests.support.projects import seeded_app
from tests.support.servers import MARIA, PG

#: A project as Django's test settings write it: two aliases, no NAME (in-memory test databases), no routers.
PLAIN_SETTINGS = """
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "pytest_multidb", "sample_models.artists",
                  "sample_models.cycles"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}, "other": {"ENGINE": "django.db.backends.sqlite3"}}
"""

PLAIN_TESTS = '''
import pickle

import uuid

import django
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import SimpleTestCase, TestCase
from sample_models.artists.models import Artist
from sample_models.cycles.models import Category


def test_the_projects_routers_are_left_as_written():
    assert settings.DATABASE_ROUTERS == []


class MakemigrationsInSetUpClass(TestCase):
    """With no router, makemigrations checks the history of 'default' only (it checks every alias otherwise)."""

    databases = {"default"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        call_command("makemigrations", "artists", "--check", "--dry-run", verbosity=0)

    def test_nothing_to_make(self):
        pass


@pytest.mark.uses_db("default", "other")
def test_in_memory_aliases_are_each_their_own_database():
    assert connections["default"].settings_dict["NAME"] != connections["other"].settings_dict["NAME"]
    Artist.objects.create(name="on default")
    assert Artist.objects.using("other").count() == 0


@pytest.mark.uses_db("default", "other")
def test_with_no_router_every_model_is_built_on_every_alias():
    Category.objects.using("other").create(name="an app without migrations")
    Artist.objects.using("other").create(name="an app with migrations")
    assert (Category.objects.count(), Artist.objects.count()) == (0, 0)


@pytest.mark.uses_db("default", "other", transaction=True)
def test_a_write_on_one_alias_does_not_lock_the_other():
    with transaction.atomic(using="default"):
        Artist.objects.create(name="x")
        with transaction.atomic(using="other"):
            Artist.objects.using("other").create(name="y")
    assert Artist.objects.using("other").count() == Artist.objects.count() == 1


class ConnectionCopies(SimpleTestCase):
    databases = {"default"}

    def test_a_copy_of_a_declared_alias_is_that_alias(self):
        copied = connection.copy("dynamic_connection")
        try:
            with copied.cursor() as cursor:
                cursor.execute("SELECT 1")
                assert cursor.fetchone()[0] == 1
        finally:
            copied.close()


if django.VERSION >= (5, 0):  # SimpleTestCase.__getstate__ (a running test case pickled) is Django 5.0's
    class Picklable(SimpleTestCase):
        def test_is_picklable_with_non_picklable_properties(self):
            self.non_picklable = lambda: 0
            self.assertEqual(self, pickle.loads(pickle.dumps(self)))
'''


def test_a_plain_django_project_sees_django_as_it_is(inner, pytester):
    """Sqlite aliases without NAME, no routers: the routers as written, makemigrations, in-memory databases of their
    own, every model on every alias, no lock between aliases, copies of a connection, picklable test cases."""
    pytester.makepyfile(fidelity_settings=PLAIN_SETTINGS, test_plain=PLAIN_TESTS)
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", settings=False, timeout=60)
    run.result.assert_outcomes(passed=7 if django.VERSION >= (5, 0) else 6)
    summary = run.summary()
    assert summary["default"]["name"] != summary["other"]["name"]
    assert summary["other"]["kind"] == "sqlite"  # not "shared"


ORDER_AND_HOUSEKEEPING = '''
import unittest

import pytest
from django.db import close_old_connections, connections
from django.test import SimpleTestCase, TestCase, TransactionTestCase
from sample_models.artists.models import Artist


class TestASimple(SimpleTestCase):
    def test_simple(self):
        pass


class TestBUnittest(unittest.TestCase):
    def test_unittest(self):
        pass


class TestCCommitting(TransactionTestCase):
    databases = {"default"}

    def test_committing(self):
        pass


class TestDCase(TestCase):
    databases = {"default"}

    def test_case(self):
        pass


@pytest.mark.uses_db("other")
def test_e_opens_other():
    assert Artist.objects.using("other").count() == 0


class TestFHousekeeping(TestCase):
    """Django's connection housekeeping reads the state of every open connection, declared or not."""

    databases = {"default"}

    def test_close_old_connections(self):
        assert connections["other"].connection is not None  # in memory under Django: open since test_e
        close_old_connections()
'''


def test_django_test_classes_run_in_django_s_order_and_its_housekeeping_passes_the_guard(inner, pytester):
    """Django's runner runs ``TestCase`` classes, then the other ``SimpleTestCase`` ones (``TransactionTestCase``
    among them), then plain ``unittest`` classes (a ``SimpleTestCase`` that leaves a class attribute behind never
    runs before a ``TestCase``); ``close_old_connections()`` in a test (mod_wsgi's ``check_password`` calls it)
    reads an open connection of an alias the class did not declare, as under Django's guard."""
    pytester.makepyfile(fidelity_settings=PLAIN_SETTINGS, test_order=ORDER_AND_HOUSEKEEPING)
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", "-v", settings=False,
                timeout=60)
    run.result.assert_outcomes(passed=6)
    ran = [line.split("::", 1)[1].split(" ", 1)[0] for line in run.out.splitlines()
           if line.startswith("test_order.py::") and "PASSED" in line]
    assert ran == ["TestDCase::test_case", "test_e_opens_other", "TestFHousekeeping::test_close_old_connections",
                   "TestASimple::test_simple", "TestCCommitting::test_committing", "TestBUnittest::test_unittest"]


DISCOVERY_INIT = "from .test_late import *  # noqa: F403  (as django-simple-history's tests package does)\n"

DISCOVERY_EARLY = '''
from django.test import SimpleTestCase, TestCase


class TestZebra(TestCase):
    databases = {"default"}

    def test_z(self):
        pass


class TestAardvark(TestCase):
    databases = {"default"}

    def test_b(self):
        pass

    def test_a(self):
        pass


class TestMiddle(SimpleTestCase):
    def test_m(self):
        pass
'''

DISCOVERY_LATE = '''
from django.test import TestCase


class TestLate(TestCase):
    databases = {"default"}

    def test_l(self):
        pass
'''

#: Django's runner's order of the package's tests, printed by a process of its own.
DJANGO_S_ORDER = '''
import django
from django.conf import settings

settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3"}})
django.setup()
from django.test.runner import DiscoverRunner

for test in DiscoverRunner(verbosity=0).build_suite(["discovered"]):
    print(f"{type(test).__name__}::{test._testMethodName}")
'''


def test_django_test_classes_run_as_django_s_discovery_meets_them(inner, pytester):
    """unittest's discovery reads a module's classes by name, not as they are defined, and meets the classes a
    package's ``__init__`` imports before its modules (django-simple-history's two tests that failed under both
    pytest plugins and passed under its ``runtests.py``: a class defining a model ran before them here)."""
    pytester.makepyfile(fidelity_settings=PLAIN_SETTINGS, django_s_order=DJANGO_S_ORDER)
    package = pytester.mkpydir("discovered")
    (package / "__init__.py").write_text(DISCOVERY_INIT)
    (package / "test_early.py").write_text(DISCOVERY_EARLY)
    (package / "test_late.py").write_text(DISCOVERY_LATE)
    django_s = subprocess.run([sys.executable, "django_s_order.py"], cwd=pytester.path, capture_output=True,
                              text=True, check=True).stdout.split()
    assert django_s[0] == "TestLate::test_l"  # met in the package's __init__ first
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", "-v", "discovered",
                settings=False, timeout=60)
    run.result.assert_outcomes(passed=5)
    ran = [line.split("::", 1)[1].split(" ", 1)[0] for line in run.out.splitlines()
           if line.startswith("discovered/") and "PASSED" in line]
    assert ran == django_s


def test_a_swap_installs_the_router(inner, pytester):
    """Without MODELS the router comes with the first swap: the routing the project asked for."""
    pytester.makepyfile(fidelity_settings=PLAIN_SETTINGS, test_swap='''
import pytest
from django.conf import settings
from pytest_multidb.routing import ROUTER_PATH
from sample_models.artists.models import Artist


@pytest.mark.uses_db("default", "other")
def test_swap(swap_db):
    assert ROUTER_PATH not in settings.DATABASE_ROUTERS
    swap_db(Artist, "other")
    assert ROUTER_PATH in settings.DATABASE_ROUTERS
    Artist.objects.create(name="moved")
    assert (Artist.objects.using("other").count(), Artist.objects.using("default").count()) == (1, 0)
''')
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", settings=False, timeout=60)
    run.result.assert_outcomes(passed=1)


REQUIRED_DB_MODELS = '''
from django.db import models


class Everywhere(models.Model):
    pass


class OnlyOnMySQL(models.Model):
    class Meta:
        required_db_vendor = "mysql"


class NeedsAFeature(models.Model):  # as Django's suite guards GeneratedField(db_persist=False) on PostgreSQL < 18
    class Meta:
        required_db_features = {"supports_a_feature_no_backend_has"}


class Country(models.Model):
    code = models.CharField(max_length=2, unique=True)


class City(models.Model):  # a relation over another field: no column, no constraint of its own (Django's suite)
    country_code = models.CharField(max_length=2)
    country = models.ForeignObject(Country, models.CASCADE, from_fields=["country_code"], to_fields=["code"])
'''


def test_models_a_database_cannot_hold_are_not_built_on_it(inner, pytester):
    """``migrate --run-syncdb`` builds a model only where ``Options.can_migrate`` allows it (its
    ``required_db_vendor``, its ``required_db_features``): Django's suite has models PostgreSQL 15 cannot create.
    A ``ForeignObject`` over another field is built as Django builds it (no column, no constraint)."""
    pytester.mkpydir("vendorapp")
    (pytester.path / "vendorapp" / "models.py").write_text(REQUIRED_DB_MODELS)
    pytester.makepyfile(fidelity_settings=PLAIN_SETTINGS + 'INSTALLED_APPS = [*INSTALLED_APPS, "vendorapp"]\n',
                        test_vendor='''
import pytest
from django.db import connection


@pytest.mark.uses_db("default")
def test_tables():
    tables = set(connection.introspection.table_names())
    assert "vendorapp_everywhere" in tables
    assert not {"vendorapp_onlyonmysql", "vendorapp_needsafeature"} & tables


@pytest.mark.uses_db("default")
def test_a_relation_over_another_field():
    from vendorapp.models import City, Country

    City.objects.create(country_code="fr", country=Country.objects.create(code="fr"))
    assert City.objects.get(country__code="fr").country_code == "fr"
''')
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", settings=False, timeout=60)
    run.result.assert_outcomes(passed=2)


MANY_TABLES = 520  # more than sqlite's 500 SELECTs in one compound query (Django's admin tests and their apps)


def test_a_project_of_more_tables_than_one_sqlite_query_may_count(inner, pytester):
    """Django's own suite, many of its modules at once, has more than 500 tables: the plugin's looks at what
    tests left (Django test classes, committing tests) still work on sqlite, as Django's runner does."""
    pytester.mkpydir("manytables")
    (pytester.path / "manytables" / "models.py").write_text("from django.db import models\n" + "".join(
        f"\n\nclass Table{i}(models.Model):\n    value = models.IntegerField(default=0)\n"
        for i in range(MANY_TABLES)))
    pytester.makepyfile(fidelity_settings=PLAIN_SETTINGS + 'INSTALLED_APPS = [*INSTALLED_APPS, "manytables"]\n',
                        test_many=f'''
import pytest
from django.test import TestCase, TransactionTestCase

from manytables import models


class InATestCase(TestCase):
    def test_writes(self):
        models.Table0.objects.create()
        self.assertEqual(models.Table{MANY_TABLES - 1}.objects.count(), 0)


class InATransactionTestCase(TransactionTestCase):
    def test_commits(self):
        models.Table{MANY_TABLES - 1}.objects.create()


@pytest.mark.uses_db("default", transaction=True)
def test_commits_too():
    assert models.Table{MANY_TABLES - 1}.objects.count() == 0
    models.Table1.objects.create()


@pytest.mark.uses_db("default")
def test_sees_nothing_left():
    assert not models.Table1.objects.exists() and not models.Table{MANY_TABLES - 1}.objects.exists()
''')
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", "-p", "no:randomly",
                settings=False, timeout=120)
    run.result.assert_outcomes(passed=4)


#: Two aliases on one PostgreSQL database and an app whose data migration writes through the default manager.
SHARED_SETTINGS = f"""
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "seeded"]
PG = {{"ENGINE": "django.db.backends.postgresql", "NAME": "multidb_fidelity", "USER": "{PG["user"]}",
       "HOST": "{PG["host"]}", "PORT": "{PG["port"]}"}}
DATABASES = {{"default": dict(PG), "other": dict(PG)}}
"""

#: ``seed`` writes through the default manager, no ``using=``: to 'default', as data migrations do.
SEED_THROUGH_DEFAULT = '    apps.get_model("seeded", "Note").objects.create(text="seed")'

SHARED_TESTS = '''
import pytest
from seeded.models import Note


@pytest.mark.uses_db("other", "default")
def test_the_shared_database_was_built_through_default():
    assert Note.objects.using("other").get().text == Note.objects.get().text == "seed"
'''


@pytest.mark.servers
def test_default_builds_a_test_database_it_shares(inner, pytester, servers):
    """The marker names 'other' first, yet 'default' builds the database (its data migration writes
    through 'default'), as Django's runner would have it."""
    pytester.makepyfile(fidelity_settings=SHARED_SETTINGS, test_shared=SHARED_TESTS)
    seeded_app(pytester, SEED_THROUGH_DEFAULT)
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", settings=False, timeout=90)
    run.result.assert_outcomes(passed=1)
    summary = run.summary()
    assert summary["default"]["kind"] == "server"
    assert summary["other"]["kind"] == "shared"
    assert not run.leftovers()


@pytest.mark.servers
def test_apps_without_migrations_are_built_before_the_migrations(inner, pytester, servers):
    """As ``migrate --run-syncdb``: a migration's foreign key may point at an app without migrations (Django's
    test settings turn off the migrations of contenttypes and auth; admin's point at both). PostgreSQL checks
    that the tables exist."""
    pytester.makepyfile(fidelity_settings=SHARED_SETTINGS + '''
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.admin", "pytest_multidb"]
MIGRATION_MODULES = {"auth": None, "contenttypes": None}
DATABASES = {"default": dict(PG)}
''', test_syncdb='''
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType


@pytest.mark.uses_db("default")
def test_a_migrated_model_points_at_an_unmigrated_one():
    user = User.objects.create(username="u")
    LogEntry.objects.create(user=user, content_type=ContentType.objects.get_for_model(User), action_flag=1,
                            object_repr="u")
    assert LogEntry.objects.get().content_type.model == "user"
''')
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", settings=False, timeout=90)
    run.result.assert_outcomes(passed=1)
    assert not run.leftovers()


#: Two aliases on the backend under test, no router: each model on both (as Django builds them).
TWO_ALIASES = """
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "seeded"]
DATABASES = {{"default": {default!r}, "other": {other!r}}}
"""

#: ``seed`` reads through the default manager, no ``using=``: 'default' also while 'other' is migrated.
SEED_READS_DEFAULT = '    apps.get_model("seeded", "Note").objects.count()'

#: A ``post_migrate`` handler that opens a transaction on 'default' whatever alias was migrated (as
#: django-pgviews-redux's ``sync_pgviews`` does).
TOUCHING_CONFTEST = '''
from django.db import transaction
from django.db.models.signals import post_migrate


def on_default(using, **kwargs):
    with transaction.atomic():
        from seeded.models import Note

        Note.objects.exists()


post_migrate.connect(on_default)
'''

TOUCHING_TESTS = '''
import pytest
from seeded.models import Note


@pytest.mark.django_db(databases=["default", "other"])
def test_both_built():
    Note.objects.using("other").create(text="o")
    assert (Note.objects.using("other").count(), Note.objects.count()) == (1, 0)
'''


@pytest.mark.parametrize("backend", ["sqlite", "pg", "maria"], indirect=True)
def test_a_build_that_touches_default_is_made_after_it(inner, pytester, backend):
    """A data migration and a ``post_migrate`` handler that use 'default' while 'other' is migrated: Django's
    runner sets 'default' up first, so they find its test database. Built at once, 'other' is made again after
    'default', with it open; the next run restores both from the schema cache (``--multidb-rebuild`` first: two
    sqlite aliases of one schema would share one build)."""
    names = [f"multidb_touch_{uuid.uuid4().hex[:6]}_{alias}" for alias in ("default", "other")]
    if backend.pg:
        databases = [{"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": PG["user"],
                      "HOST": PG["host"], "PORT": PG["port"]} for name in names]
    elif backend.maria:
        databases = [{"ENGINE": "django.db.backends.mysql", "NAME": name, "USER": MARIA["user"],
                      "HOST": MARIA["host"], "PORT": MARIA["port"]} for name in names]
    else:
        databases = [{"ENGINE": "django.db.backends.sqlite3", "NAME": f"{name}.sqlite3"} for name in names]
    pytester.makepyfile(fidelity_settings=TWO_ALIASES.format(default=databases[0], other=databases[1]),
                        test_touching=TOUCHING_TESTS)
    pytester.makeconftest(TOUCHING_CONFTEST)
    seeded_app(pytester, SEED_READS_DEFAULT)
    for schema, rebuild in (("built", ("--multidb-rebuild",)), ("cached", ())):  # rebuilt: both built at once
        run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", *rebuild, settings=False,
                    timeout=90, backend=backend)
        run.result.assert_outcomes(passed=1)
        assert {alias: line["cache"] for alias, line in run.summary().items()} == {"default": schema,
                                                                                  "other": schema}, run.out
        assert not run.leftovers()


LAZY_SETTINGS = """
SECRET_KEY = "x"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "lazyapp"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}}
"""
LAZY_MODELS = '''
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils.functional import LazyObject


class LazyStorage(LazyObject):
    def _setup(self):
        self._wrapped = FileSystemStorage()


class Upload(models.Model):
    file = models.FileField(storage=LazyStorage(), upload_to="up")
'''
LAZY_TESTS = '''
import pytest
from django.db import models
from django.utils.functional import empty
from lazyapp.models import LazyStorage, Upload


def django_keeps_it_lazy():  # Django 4.2's FileField evaluates its storage as the model is defined
    probe = LazyStorage()
    models.FileField(storage=probe)
    return probe._wrapped is empty


@pytest.mark.django_db
def test_the_storage_is_not_evaluated_when_the_database_is_made():
    assert (Upload._meta.get_field("file").storage._wrapped is empty) == django_keeps_it_lazy()
    assert Upload.objects.count() == 0
'''


def test_a_lazy_storage_is_not_evaluated_by_the_schema_s_fingerprint(inner, pytester):
    """Django's ``file_storage`` ``StorageLazyObjectTests``: a ``LazyObject`` in a field's arguments stays
    unevaluated until a test uses it (Django's migration serializer, which keys the schema cache, evaluates it)."""
    pytester.makepyfile(fidelity_settings=LAZY_SETTINGS, test_lazy=LAZY_TESTS)
    (pytester.path / "lazyapp").mkdir()
    (pytester.path / "lazyapp" / "__init__.py").write_text("")
    (pytester.path / "lazyapp" / "models.py").write_text(LAZY_MODELS)
    run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", settings=False, timeout=60)
    run.result.assert_outcomes(passed=1)


#: Django's documented way for a data migration to act on one database only.
SEED_ON_DEFAULT_ONLY = '''    if schema_editor.connection.alias != "default":
        return
    apps.get_model("seeded", "Note").objects.using(schema_editor.connection.alias).create(text="seed")'''

SEED_ON_DEFAULT_TESTS = '''
import pytest
from seeded.models import Note


@pytest.mark.django_db(databases=["default", "other"])
def test_the_seed_is_on_default_only():
    assert list(Note.objects.values_list("text", flat=True)) == ["seed"]
    assert Note.objects.using("other").count() == 0
'''


def test_two_aliases_of_one_schema_are_built_apart(inner, pytester):
    """Two sqlite aliases, the same models and migrations, and a data migration that writes on 'default' only: each
    alias's schema is its own (the second is not a copy of the first's build)."""
    databases = [{"ENGINE": "django.db.backends.sqlite3", "NAME": f"{alias}.sqlite3"} for alias in ("default", "other")]
    pytester.makepyfile(fidelity_settings=TWO_ALIASES.format(default=databases[0], other=databases[1]),
                        test_seed=SEED_ON_DEFAULT_TESTS)
    seeded_app(pytester, SEED_ON_DEFAULT_ONLY)
    for schema in ("built", "cached"):
        run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", settings=False, timeout=60)
        run.result.assert_outcomes(passed=1)
        assert {alias: line["cache"] for alias, line in run.summary().items()} == {"default": schema,
                                                                                  "other": schema}, run.out


ROUTER = '''
class Router:
    def allow_migrate(self, db, app_label, **hints):
        return {allowed}
'''

ROUTED_TESTS = '''
import pytest
from django.db import connections


@pytest.mark.django_db(databases=["default", "other"])
def test_tables():
    assert ("seeded_note" in connections["other"].introspection.table_names()) is {on_other}
'''


def test_a_router_s_code_is_part_of_the_schema(inner, pytester, monkeypatch):
    """What a router's ``allow_migrate`` returns decides what is built where: a change to its code builds afresh."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # rewritten files within a second: no stale .pyc
    databases = [{"ENGINE": "django.db.backends.sqlite3", "NAME": f"{alias}.sqlite3"} for alias in ("default", "other")]
    settings = TWO_ALIASES.format(default=databases[0], other=databases[1])
    pytester.makepyfile(fidelity_settings=settings + 'DATABASE_ROUTERS = ["fidelity_router.Router"]\n')
    seeded_app(pytester, "    pass")
    for allowed, on_other in (('db == "default"', False), ("True", True)):
        pytester.makepyfile(fidelity_router=ROUTER.format(allowed=allowed),
                            test_routed=ROUTED_TESTS.format(on_other=on_other))
        run = inner("--multidb-settings", "fidelity_settings", "-p", "no:cacheprovider", settings=False, timeout=60)
        run.result.assert_outcomes(passed=1)
        assert run.summary()["other"]["cache"] == "built", run.out
