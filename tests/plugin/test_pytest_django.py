"""Beside pytest-django: both plugins active in one run, each owning its own tests."""

from __future__ import annotations

INNER = """
import pytest
from django.contrib.auth.models import User
from django.db import connections
from sample_models.artists.models import Artist


@pytest.mark.django_db
def test_pytest_django_owns_this_one():
    User.objects.create(username="x")
    assert User.objects.count() == 1


def test_pytest_django_fixture(db):
    assert User.objects.count() == 0


@pytest.mark.uses_db("a")
def test_multidb_owns_this_one():
    Artist.objects.create(name="x")
    assert Artist.objects.count() == 1
    assert connections["a"].settings_dict["NAME"].endswith("a.sqlite3")  # our temp file, not pytest-django's


@pytest.mark.uses_db("a")
def test_undeclared_alias_is_still_blocked():
    User.objects.count()


def test_no_declaration_is_blocked():
    Artist.objects.count()
"""


def test_both_plugins_share_the_work(inner, pytester):
    pytester.makepyfile(test_both=INNER)
    # pytest-django enabled (it is installed), loaded by its own --ds option; our settings option beside it.
    run = inner("-p", "django", "--ds", "sample_models.settings", "-p", "no:randomly", plugins=False)
    run.result.assert_outcomes(passed=3, failed=2)
    out = run.out
    assert "test_undeclared_alias_is_still_blocked touched database alias 'default', which it did not declare" in out
    assert "test_no_declaration_is_blocked touched database alias 'a' without declaring any database" in out


def test_no_option_collides(inner):
    run = inner("-p", "django", "--help", plugins=False, settings=False)
    assert run.result.ret == 0
    assert "--multidb-settings" in run.out and "--ds=DS" in run.out
