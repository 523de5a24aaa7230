"""A project that turns every app's migrations off through ``MIGRATION_MODULES`` (``None`` per app, or
pytest-django's "disable migrations" mapping) installs and passes on every backend: every table exists
before a post-migrate handler (contenttypes, permissions) runs."""

from __future__ import annotations

import pytest

PER_APP = '''
from django.conf import settings as _unused  # noqa: F401
from sample_models.settings import *  # noqa: F403

MIGRATION_MODULES = {app.rsplit(".", 1)[-1]: None for app in INSTALLED_APPS}  # noqa: F405
'''

DISABLE_ALL = '''
from sample_models.settings import *  # noqa: F403


class DisableMigrations:
    """Every app: no migrations module (pytest-django's --nomigrations does the same)."""

    def __contains__(self, item):
        return True

    def __getitem__(self, item):
        return None


MIGRATION_MODULES = DisableMigrations()
'''

SUITE = '''
import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from inner_helpers import SERVER, add, committed, count


@pytest.mark.uses_db("default", SERVER)
def test_rolled_back():
    assert ContentType.objects.filter(app_label="auth", model="user").exists()
    assert Permission.objects.filter(codename="add_user").exists()
    User.objects.create(username="u")
    add(SERVER, "r")
    assert count(SERVER) == 1


@pytest.mark.uses_db("default", SERVER, transaction=True)
def test_committing():
    assert User.objects.count() == 0 and committed(SERVER) == 0
    User.objects.create(username="u")
    add(SERVER, "c")
    assert committed(SERVER) == 1


@pytest.mark.uses_db("default", SERVER)
def test_after_emptying_the_install_rows_are_back():
    assert ContentType.objects.filter(app_label="auth", model="user").exists()
    assert User.objects.count() == 0 and count(SERVER) == 0
'''


@pytest.mark.parametrize("settings", [PER_APP, DISABLE_ALL], ids=["none-per-app", "disable-all"])
def test_migrations_turned_off_install_and_pass(inner, pytester, backend, real, settings):
    before = real.contents()
    pytester.makepyfile(inner_settings=settings, test_inner=SUITE)
    run = inner("--multidb-settings", "inner_settings", "-p", "no:cacheprovider", settings=False, backend=backend)
    run.result.assert_outcomes(passed=3)
    assert "no such table" not in run.out + run.err
    assert real.contents() == before
    assert run.leftovers() == set()
