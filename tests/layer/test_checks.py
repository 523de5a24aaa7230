"""System checks: multidb.W001 (relations across connections) and multidb.E001-E003 (bad MODELS settings)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import models
from django.test import override_settings
from django.test.utils import isolate_apps

from pytest_multidb import routing, use_db
from pytest_multidb.checks import check_cross_connection_relations, check_multidb_settings, cross_connection_warnings
from sample_models.artists.models import Artist
from sample_models.cycles.models import Book, Category
from sample_models.widgets.models import Exhibit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_selectors():
    yield
    routing.reset_selector_cache()


def test_w001_names_both_models_both_aliases_and_a_hint():
    [warning] = check_cross_connection_relations(app_configs=None, databases=None)
    assert warning.id == "multidb.W001"
    assert warning.level == checks.WARNING
    assert warning.obj is Exhibit._meta.get_field("artist")
    assert "widgets.Exhibit (alias 'pg') references artists.Artist (alias 'a')" in warning.msg
    assert "db_constraint=False" in warning.hint
    assert "MODELS" in warning.hint


def test_w001_is_part_of_the_registered_checks():
    assert [m.id for m in checks.run_checks(tags=["multidb"])] == ["multidb.W001"]


def test_w001_only_checks_the_given_apps():
    assert check_cross_connection_relations(app_configs=[apps.get_app_config("artists")]) == []
    assert len(check_cross_connection_relations(app_configs=[apps.get_app_config("widgets")])) == 1


def test_w001_follows_swaps():
    with use_db(Artist, "pg"):
        assert check_cross_connection_relations() == []


def test_w001_for_many_to_many_through_an_auto_created_table():
    assert cross_connection_warnings([Book, Category]) == []
    with use_db(Category, "pg"):
        [warning] = cross_connection_warnings([Book, Category])
    assert warning.obj is Book._meta.get_field("categories")
    assert "cycles.Book (alias 'maria')" in warning.msg
    assert "cycles.Category (alias 'pg')" in warning.msg
    assert "'cycles_book_categories' is on alias 'maria'" in warning.msg


def test_w001_for_one_to_one_but_not_without_db_constraint():
    with isolate_apps("sample_models.artists", "sample_models.widgets"):

        class Person(models.Model):
            class Meta:
                app_label = "artists"

        class Bio(models.Model):
            person = models.OneToOneField(Person, models.CASCADE)
            loose = models.ForeignKey(Person, models.CASCADE, db_constraint=False, related_name="+")

            class Meta:
                app_label = "widgets"

        [warning] = cross_connection_warnings([Person, Bio])
    assert warning.obj is Bio._meta.get_field("person")
    assert "widgets.Bio (alias 'pg') references artists.Person (alias 'a')" in warning.msg


def test_manage_py_check_on_the_sample_project_prints_w001():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MULTIDB_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = "sample_models.settings"
    result = subprocess.run([sys.executable, "-m", "django", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert ("widgets.Exhibit.artist: (multidb.W001) widgets.Exhibit (alias 'b') references "
            "artists.Artist (alias 'a') on another connection.") in result.stderr
    assert "HINT:" in result.stderr
    assert "System check identified 1 issue (0 silenced)." in result.stderr


def test_good_settings_have_no_errors():
    assert check_multidb_settings(app_configs=None, databases=["default"]) == []


def test_each_bad_entry_is_one_error():
    other = {
        **settings.OTHER_DATABASES,
        "x1": {"ENGINE": "nosuch"},
        "x2": {"ENGINE": "sqlite3", "DATABASE_NAME": "n", "NAME": "n"},
    }
    with override_settings(OTHER_DATABASES=other):
        unknown, both = check_multidb_settings()
    assert {unknown.id, both.id} == {"multidb.E001"}
    assert unknown.level == both.level == checks.ERROR
    assert unknown.obj == "OTHER_DATABASES['x1']['ENGINE'] (alias 'x1')"
    assert unknown.msg == "unknown engine 'nosuch'."
    assert "dotted backend path" in unknown.hint
    assert both.obj == "OTHER_DATABASES['x2'] (alias 'x2')"
    assert "'DATABASE_NAME' and 'NAME'" in both.msg
    assert "keep only one" in both.hint


def test_selector_under_two_aliases_is_e002():
    other = {**settings.OTHER_DATABASES, "x": {"ENGINE": "sqlite3", "NAME": ":memory:", "MODELS": ["artists"]}}
    with override_settings(OTHER_DATABASES=other):
        [error] = check_multidb_settings()
    assert error.id == "multidb.E002"
    assert "'artists' is also claimed by alias 'a'" in error.msg
    assert "'x'" in error.obj


@pytest.mark.parametrize(("selector", "problem"), [
    ("nosuchapp", "'nosuchapp' names no installed app"),
    ("artists.Painter", "app 'artists' has no model 'painter'"),
])
def test_selector_naming_nothing_is_e003(selector, problem):
    other = {**settings.OTHER_DATABASES, "x": {"ENGINE": "sqlite3", "NAME": ":memory:", "MODELS": [selector]}}
    with override_settings(OTHER_DATABASES=other):
        [error] = check_multidb_settings()
    assert error.id == "multidb.E003"
    assert problem in error.msg.lower()  # selectors are matched (and reported) in lower case
    assert error.obj == "OTHER_DATABASES['x']['MODELS'] (alias 'x')"
    assert error.hint
