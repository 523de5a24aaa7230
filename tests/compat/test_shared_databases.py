"""Aliases that are one database behave as in Django's test runner: three aliases on one PostgreSQL database
(each with its own search_path) share one test database, a ``TEST["MIRROR"]`` alias reads its primary's, and a
project whose ``default`` no test uses needs no ``DEPENDENCIES`` workaround."""

from __future__ import annotations

import pytest

from tests.support.servers import PG

pytestmark = pytest.mark.servers

SETTINGS = f'''
from sample_models.settings import *  # noqa: F403

PG = {{"ENGINE": "django.db.backends.postgresql", "NAME": "multidb_shared", "USER": "{PG["user"]}",
       "HOST": "{PG["host"]}", "PORT": "{PG["port"]}"}}


def schema(name):
    return {{"options": f"-c search_path={{name}}"}}


OTHER_DATABASES = {{
    "a": {{**PG, "OPTIONS": schema("s_a"), "MODELS": ["artists"]}},
    "b": {{**PG, "OPTIONS": schema("s_b"), "MODELS": ["widgets"]}},
    "c": {{**PG, "OPTIONS": schema("s_c"), "MODELS": ["cycles"], "TEST": {{"DEPENDENCIES": ["b"]}}}},
    "replica": {{**PG, "OPTIONS": schema("s_b"), "TEST": {{"MIRROR": "b"}}}},
}}
'''

# The project makes each alias's schema before its migrations (as a real project with schemas per alias would).
CONFTEST = '''
from django.db import connections
from django.db.models.signals import pre_migrate


def make_schema(sender, using, **kwargs):
    conn = connections[using]
    if conn.vendor == "postgresql":
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {conn.settings_dict['OPTIONS']['options'].split('=')[1]}")


pre_migrate.connect(make_schema, dispatch_uid="schemas")
'''

SUITE = '''
import pytest
from django.db import connections
from sample_models.artists.models import Artist
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


def current_schema(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


@pytest.mark.uses_db("a", "b", "c", "replica")
def test_one_database_three_schemas_and_a_mirror():
    names = {connections[alias].settings_dict["NAME"] for alias in ("a", "b", "c", "replica")}
    assert len(names) == 1 and names.pop().startswith("test_multidb_shared_")
    assert [current_schema(alias) for alias in "abc"] == ["s_a", "s_b", "s_c"]
    Artist.objects.create(name="x")
    Widget.objects.create(code="w", weight=1)
    Category.objects.create(name="c")
    assert Widget.objects.using("replica").count() == 1  # the mirror reads the test's own rows


@pytest.mark.uses_db("b", "replica", transaction=True)
def test_the_mirror_of_a_committing_alias_sees_what_it_committed():
    assert Widget.objects.count() == 0
    Widget.objects.create(code="k", weight=1)
    assert connections["replica"] is not connections["b"]
    assert Widget.objects.using("replica").count() == 1


@pytest.mark.uses_db("a", "b", "c")
def test_nothing_is_left_between_tests():
    assert (Artist.objects.count(), Widget.objects.count(), Category.objects.count()) == (0, 0, 0)
'''


def test_aliases_of_one_database_share_one_test_database(inner, pytester, servers):
    pytester.makepyfile(inner_settings=SETTINGS, test_inner=SUITE)
    pytester.makeconftest(CONFTEST)
    run = inner("--multidb-settings", "inner_settings", "-p", "no:cacheprovider", settings=False)
    run.result.assert_outcomes(passed=3)
    summary = run.summary()
    assert sorted(summary) == ["a", "b", "c", "replica"]  # 'default', which no test uses, was not made
    assert summary["a"]["kind"] == "server"
    assert summary["b"]["kind"] == summary["c"]["kind"] == "shared"
    assert summary["b"]["cache"] == summary["c"]["cache"] == "built, in the database of 'a'"
    assert summary["replica"]["kind"] == "mirror" and summary["replica"]["cache"] == "mirror of 'b'"
    assert len({entry["name"] for entry in summary.values()}) == 1  # one test database for all four
    assert not [name for name in servers.databases() if name.startswith("pg:test_multidb_shared_")]


# django-pgtrigger's layout: plain DATABASES, two aliases on one PostgreSQL database, the second in a schema the
# suite's django_db_setup makes (and migrates) once the test database is there, as Django's runner leaves it.
DJANGO_SETTINGS = f'''
SECRET_KEY = "x"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "sample_models.artists"]
PG = {{"ENGINE": "django.db.backends.postgresql", "NAME": "multidb_mirrored", "USER": "{PG["user"]}",
       "HOST": "{PG["host"]}", "PORT": "{PG["port"]}"}}
DATABASES = {{"default": PG, "order": {{**PG, "OPTIONS": {{"options": "-c search_path=ordering"}}}}}}
'''
DJANGO_CONFTEST = '''
import pytest
from django.core.management import call_command
from django.db import connection


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA IF NOT EXISTS ordering")
        call_command("migrate", database="order", verbosity=0)
'''
DJANGO_SUITE = '''
import pytest
from django.db import connections
from sample_models.artists.models import Artist


@pytest.mark.django_db(databases=["default", "order"])
def test_the_second_alias_is_migrated_by_the_suite():
    with connections["order"].cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        assert cursor.fetchone()[0] == "ordering"
    Artist.objects.using("order").create(name="o")
    assert (Artist.objects.count(), Artist.objects.using("order").count()) == (0, 1)
'''


def test_an_alias_of_django_s_databases_on_one_database_is_a_mirror_not_migrated(inner, pytester, servers):
    """As Django's ``setup_databases``: the second alias of one database is set up as a test mirror of the first,
    and only the first is migrated (pytest-multidb migrated the second too, in a schema not made yet)."""
    pytester.makepyfile(inner_settings=DJANGO_SETTINGS, test_inner=DJANGO_SUITE)
    pytester.makeconftest(DJANGO_CONFTEST)
    run = inner("--multidb-settings", "inner_settings", "-p", "no:cacheprovider", settings=False)
    run.result.assert_outcomes(passed=1)
    summary = run.summary()
    assert summary["order"]["kind"] == "shared"
    assert summary["order"]["cache"] == "Django's test mirror, in the database of 'default'"
    assert not [name for name in servers.databases() if name.startswith("pg:test_multidb_mirrored")]
