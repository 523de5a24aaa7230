"""A gradual migration with pytest-django still installed. pytest-django steps aside and pytest-multidb
serves both vocabularies on the same aliases: a mixed suite (pytest-django's marker, fixtures, a ``django_db_setup``
override, Django test classes, ``live_server`` with and without ``uses_db``, ``uses_db`` tests and fixtures, rollback
and committing tests of both styles, ``--reuse-db --strict-markers`` in addopts) passes with both plugins installed
and no ``-p`` flag, on sqlite, PostgreSQL and MariaDB, plain, warm and under ``-n 2``; ``--multidb-clean`` then leaves
no test database. Its pytest-django half passes with pytest-django alone (``test_pytest_django_suite.py``)."""

from __future__ import annotations

import pytest

from tests.compat.test_pytest_django_suite import CONFTEST, FIXTURES, INI, MARKED, SETTINGS, URLS

#: pytest-multidb's vocabulary beside pytest-django's, on the same aliases, in one file.
MIXED = '''
import json
import urllib.request

import pytest
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import TestCase, TransactionTestCase
from inner_helpers import SERVER, add, committed, count
from sample_models.artists.models import Artist

pytestmark = pytest.mark.urls("suite_urls")


@pytest.fixture
def artist(uses_db):
    uses_db("a")
    return Artist.objects.create(name="from a fixture")


@pytest.mark.uses_db("default", "a", SERVER)
def test_01_uses_db_on_the_aliases_django_db_uses():
    assert Group.objects.filter(name="from-setup").exists()  # the conftest's django_db_setup override
    User.objects.create(username="m")
    add(SERVER, "m")
    assert User.objects.count() == count(SERVER) == 1


@pytest.mark.django_db(databases=["default", SERVER])
def test_02_django_db_sees_nothing_of_it():
    assert User.objects.count() == count(SERVER) == 0


@pytest.mark.uses_db("default", SERVER, transaction=True)
def test_03_uses_db_commits():
    User.objects.create(username="c")
    add(SERVER, "c")
    assert committed(SERVER) == 1


@pytest.mark.django_db(transaction=True, databases=["default", SERVER])
def test_04_django_db_commits_and_sees_none_of_it():
    assert User.objects.count() == committed(SERVER) == 0
    User.objects.create(username="d")


def test_05_a_fixture_declares_through_uses_db(artist, db):
    assert Artist.objects.get() == artist
    assert not User.objects.exists()


@pytest.mark.uses_db("default", "a")
def test_06_live_server_with_uses_db(live_server, artist):
    User.objects.create(username="live")
    with urllib.request.urlopen(live_server.url + "/users/", timeout=10) as response:
        assert json.loads(response.read()) == {"users": ["live"]}


def test_07_live_server_alone(live_server):
    with urllib.request.urlopen(live_server.url + "/hello/", timeout=10) as response:
        assert response.read() == b"hello"


class RolledBackClass(TestCase):
    databases = {"default", SERVER}

    @classmethod
    def setUpTestData(cls):
        User.objects.create(username="class")

    def test_08_class_data(self):
        assert User.objects.get().username == "class"
        add(SERVER, "tc")

    def test_09_class_data_again(self):
        assert User.objects.count() == 1 and count(SERVER) == 0


class CommittingClass(TransactionTestCase):
    databases = {SERVER}

    def test_10_commits(self):
        assert committed(SERVER) == 0
        add(SERVER, "ttc")
        assert committed(SERVER) == 1
'''

#: The outcome of the whole suite through pytest-multidb: MARKED (12), FIXTURES (20), MIXED (10).
PASSED = 12 + 20 + 10
FLAGS = ("-p", "no:randomly", "-p", "no:asyncio", "-p", "no:anyio")


def _write(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(conftest=CONFTEST, suite_settings=SETTINGS, suite_urls=URLS, test_marked=MARKED,
                        test_fixtures=FIXTURES, test_mixed=MIXED)


def test_both_installed_plain_then_warm_then_clean(inner, pytester, backend, servers):
    _write(pytester)
    first = inner("-v", *FLAGS, backend=backend, settings=False, plugins=False, warm=True)
    first.result.assert_outcomes(passed=PASSED)
    assert " is installed and steps aside: pytest-multidb serves" in first.out
    assert "(-p no:multidb runs pytest-django alone)" in first.out
    second = inner("-v", *FLAGS, backend=backend, settings=False, plugins=False, warm=True)
    second.result.assert_outcomes(passed=PASSED)
    summary = second.summary()
    assert {entry["cache"] for entry in summary.values()} == {"warm"}, summary
    clean = inner("--multidb-clean", *FLAGS, backend=backend, settings=False, plugins=False, warm=True)
    assert clean.result.ret == 0, clean.out + clean.err
    assert "Database access not allowed" not in clean.out + clean.err
    for entry in summary.values():
        assert f"removed warm test database {entry['name']!r}" in clean.out, clean.out
    kept = servers.databases()
    assert not [e["name"] for e in summary.values() if f"pg:{e['name']}" in kept or f"maria:{e['name']}" in kept]


def test_both_installed_under_xdist(inner, pytester, backend):
    _write(pytester)
    run = inner("-n", "2", *FLAGS, backend=backend, settings=False, plugins=False)
    run.result.assert_outcomes(passed=PASSED)
    assert "is the name of a configured database" not in run.out + run.err


def test_the_whole_suite_with_pytest_multidb_alone(inner, pytester):
    _write(pytester)
    run = inner(settings=False)  # -p no:django
    run.result.assert_outcomes(passed=PASSED)
    assert "steps aside" not in run.out  # the user's own choice: nothing to report


def test_no_option_collides_whichever_loads_first(inner):
    for first in (("-p", "django"), ("-p", "multidb")):
        run = inner(*first, "--help", plugins=False, settings=False)
        assert run.result.ret == 0, run.err
        assert "--multidb-settings" in run.out and "--ds=DS" in run.out and "--reuse-db" in run.out


ISOLATE_AND_TEMPLATES = '''
import pytest
from django.db import models
from django.template import Context, Template


@pytest.mark.django_isolate_apps("sample_models.artists")
def test_isolated_models(django_isolated_apps):
    class Ephemeral(models.Model):
        class Meta:
            app_label = "artists"

    assert django_isolated_apps.get_model("artists", "Ephemeral") is Ephemeral


@pytest.fixture
def later_model():
    class Later(models.Model):
        class Meta:
            app_label = "artists"

    return Later


@pytest.fixture
def resolved():
    from django.urls import reverse

    return reverse("only-elsewhere")


@pytest.mark.django_isolate_apps("sample_models.artists")
def test_isolation_begins_before_the_tests_own_fixtures(later_model, django_isolated_apps):
    assert django_isolated_apps.get_model("artists", "Later") is later_model


@pytest.mark.urls("elsewhere_urls")
def test_the_urls_marker_applies_before_the_tests_own_fixtures(resolved):
    assert resolved == "/elsewhere/"


def test_an_undefined_variable_fails():
    Template("{{ nothing_here }}").render(Context({}))


@pytest.mark.ignore_template_errors
def test_unless_ignored():
    assert Template("{{ nothing_here }}").render(Context({})) == ""
'''

ELSEWHERE_URLS = """
from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("elsewhere/", lambda request: HttpResponse(), name="only-elsewhere")]
"""


def test_isolate_apps_and_template_variables(inner, pytester):
    """pytest-django's last markers and option, served too: no test of a migrating suite is left behind."""
    pytester.makepyfile(test_extras=ISOLATE_AND_TEMPLATES, elsewhere_urls=ELSEWHERE_URLS)
    run = inner("--fail-on-template-vars", *FLAGS, plugins=False)
    run.result.assert_outcomes(passed=4, failed=1)
    assert "Undefined template variable 'nothing_here'" in run.out
    pytester.makepyfile(test_extras="def test_x(django_isolated_apps):\n    pass\n")
    run = inner(*FLAGS, plugins=False)
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_extras.py::test_x: the django_isolated_apps fixture needs @pytest.mark.django_isolate_apps(...)" \
        in run.err
