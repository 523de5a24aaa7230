"""Django's test classes run unchanged through pytest-multidb (``-p no:django``): a class's ``databases`` is its
declaration, Django's class machinery isolates it, and an undeclared alias is refused naming the class."""

from __future__ import annotations

import json
import re

from tests.support.projects import copy_project

SETTINGS = '''
from pathlib import Path

from sample_models.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "notes"]  # noqa: F405  (a data migration writes a row)
FIXTURE_DIRS = [str(Path(__file__).parent / "fixtures")]
STATIC_URL = "static/"  # LiveServerTestCase serves static files
'''

SUITE = '''
import json
import threading
import urllib.request

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import LiveServerTestCase, SimpleTestCase, TestCase, TransactionTestCase
from inner_helpers import SERVER, add, committed, count
from notes.models import Note
from sample_models.artists.models import Artist

from pytest_multidb import DatabaseAccessError


class TestTwoDatabases(TestCase):
    databases = {"default", SERVER}

    @classmethod
    def setUpTestData(cls):
        cls.user = User.objects.create(username="class-wide")
        add(SERVER, "class")

    def test_1_sees_the_class_data_and_writes(self):
        assert User.objects.count() == 1 and count(SERVER) == 1
        add(SERVER, "t1")
        assert count(SERVER) == 2

    def test_2_the_previous_test_was_rolled_back(self):
        assert User.objects.get() == self.user
        assert count(SERVER) == 1
        assert committed(SERVER) == 0  # setUpTestData's rows live in the class-wide transaction only

    def test_3_an_undeclared_alias_is_refused_naming_the_class(self):
        with pytest.raises(DatabaseAccessError) as refused:
            connections["a"].ensure_connection()
        declared = ", ".join(repr(alias) for alias in ("default", "b", "c") if alias in self.databases)
        assert str(refused.value) == (
            "test_inner.py::TestTwoDatabases::test_3_an_undeclared_alias_is_refused_naming_the_class touched "
            f"database alias 'a', which its class does not declare (databases = {{{declared}}}). "
            "Fix: add 'a' to TestTwoDatabases.databases."
        )

    def test_4_and_from_another_thread(self):
        errors = []

        def other():
            try:
                Artist.objects.count()
            except Exception as error:  # Django's own guard (DatabaseOperationForbidden) or ours: both name it
                errors.append(str(error))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert len(errors) == 1 and "TestTwoDatabases.databases" in errors[0], errors


class TestASerialized(TransactionTestCase):
    # Named to run before TestAllDatabases (Django's runner orders a module's classes by name): after that
    # class's flush, restoring the serialized rows fails under Django's runner too (its post_migrate made the
    # content types again under other ids: IntegrityError).
    databases = {"default"}
    serialized_rollback = True

    def test_1_the_data_migration_row_is_there(self):
        assert list(Note.objects.values_list("text", flat=True)) == ["from a data migration"]

    def test_2_and_is_restored_after_the_flush(self):
        assert list(Note.objects.values_list("text", flat=True)) == ["from a data migration"]


class TestAllDatabases(TransactionTestCase):
    databases = "__all__"

    def test_1_commits_for_real(self):
        add("a", "x")
        add(SERVER, "y")
        assert committed(SERVER) == 1

    def test_2_flushed_by_django(self):
        assert count("a") == 0 and committed(SERVER) == 0


class TestFixtures(TestCase):
    databases = {"default", SERVER}
    fixtures = ["inner"]

    def test_loaded_into_each_database(self):
        assert User.objects.get().username == "from-fixture"
        assert count(SERVER) == 1


class TestLiveServer(LiveServerTestCase):
    databases = {"default", "a"}

    def test_the_server_sees_committed_rows(self):
        Artist.objects.create(name="live")
        with urllib.request.urlopen(f"{self.live_server_url}/artists/") as response:
            assert json.load(response) == {"names": ["live"]}


class TestNoDatabase(SimpleTestCase):
    def test_any_database_is_refused(self):
        with pytest.raises(Exception, match="not allowed in SimpleTestCase"):
            User.objects.count()


@pytest.mark.uses_db(SERVER)
def test_after_the_classes_everything_is_clean():
    assert count(SERVER) == committed(SERVER) == 0
'''


def _fixture(backend) -> list[dict]:
    server = ({"model": "widgets.widget", "pk": 1, "fields": {"code": "fx", "weight": 1}} if backend.alias == "b"
              else {"model": "cycles.category", "pk": 1, "fields": {"name": "fx", "parent": None}})
    user = {"model": "auth.user", "pk": 1, "fields": {"username": "from-fixture", "password": "!"}}
    return [user, server]


def test_django_test_classes_run_unchanged(inner, pytester, backend, real):
    before = real.contents()
    pytester.makepyfile(inner_settings=SETTINGS, test_inner=SUITE)
    copy_project(pytester.path, "notes")
    (pytester.path / "fixtures").mkdir()
    (pytester.path / "fixtures" / "inner.json").write_text(json.dumps(_fixture(backend)))
    run = inner("-v", "--multidb-settings", "inner_settings", settings=False, backend=backend)
    run.result.assert_outcomes(passed=12)
    [needs] = re.findall(r"^multidb: 11 tests need ([\w, ]+) \((.*)\); provisioned when the first of them starts "
                         r"\(fixtures calling uses_db\(\) declare as they run\)$", run.out, re.MULTILINE)
    assert set(needs[0].split(", ")) == {"default", "a", "b", "c"}  # "__all__" included every alias
    assert needs[1] == "TestCase.databases: 10, uses_db: 1"
    assert real.contents() == before
    assert run.leftovers() == set()
    assert list(inner.real_dir.iterdir()) == []
