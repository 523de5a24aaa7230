"""After a committing test the database is what Django's flush would leave.

- No user trigger fires where Django's flush fires none: on PostgreSQL a ``DELETE`` trigger (or rule) on a table
  to empty sends the emptying through Django's ``TRUNCATE``.
- Rows of the schema install (data migrations) that a committing test changed without changing their number
  are put back, for the next test and for the next run's warm database.
- ``post_migrate`` is sent after a committing ``django_db`` test wherever Django's flush sends it.
- A warm database whose rows differ at the session's end is put back as its install left it and kept.
"""

from __future__ import annotations

import collections
import uuid

import pytest

from tests.support.projects import copy_project, seeded_app
from tests.support.servers import MARIA, PG, SQLITE

SETTINGS = '''
import os

from sample_models.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "notes"]  # noqa: F405
_NOTES = os.environ.get("NOTES_ALIAS") or os.environ.get("INNER_SERVER_ALIAS", "b")  # the server alias
OTHER_DATABASES[_NOTES] = {**OTHER_DATABASES[_NOTES],  # noqa: F405
                           "MODELS": [*OTHER_DATABASES[_NOTES]["MODELS"], "notes"]}  # noqa: F405
'''

NOTES_APPS = '''
import os

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def record(sender, using, **kwargs):
    """Every post_migrate: the running test and phase, and the alias (a line of the file $SIGNALS_FILE)."""
    if os.environ.get("SIGNALS_FILE"):
        with open(os.environ["SIGNALS_FILE"], "a") as out:
            out.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '-')}|{using}\\n")


class NotesConfig(AppConfig):
    name = "notes"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        post_migrate.connect(record, sender=self)
'''


def write_project(pytester: pytest.Pytester, **tests: str) -> None:
    """The sample project plus a ``notes`` app on the server alias (a data migration writes one row; a
    ``post_migrate`` handler records where it ran), and the inner test files ``tests``."""
    pytester.makepyfile(inner_settings=SETTINGS, **tests)
    copy_project(pytester.path, "notes")
    (pytester.path / "notes" / "apps.py").write_text(NOTES_APPS)


# -- a: triggers ---------------------------------------------------------------------------------------------

TRIGGERS = '''
import pytest
from django.db import connections
from inner_helpers import SERVER, add, raw_count

FUNCTIONS = [
    "CREATE OR REPLACE FUNCTION multidb_forbid() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'deletes are "
    "forbidden'; END $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE FUNCTION multidb_keep() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$ LANGUAGE plpgsql",
]


def execute(*statements):
    with connections[SERVER].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def write():
    widget = add(SERVER, "w")
    execute(f"INSERT INTO widgets_exhibit (widget_id, artist_id, title) VALUES ({widget.pk}, 1, 'kept?')")


def assert_empty():
    assert raw_count(SERVER, "widgets_widget") == raw_count(SERVER, "widgets_exhibit") == 0


@pytest.mark.uses_db(SERVER, transaction=True)
def test_1_a_trigger_forbids_deletes_another_soft_deletes():
    execute(*FUNCTIONS,
            "CREATE TRIGGER forbid BEFORE DELETE ON widgets_widget FOR EACH ROW EXECUTE FUNCTION multidb_forbid()",
            "CREATE TRIGGER keep BEFORE DELETE ON widgets_exhibit FOR EACH ROW EXECUTE FUNCTION multidb_keep()")
    write()


@pytest.mark.uses_db(SERVER, transaction=True)
def test_2_the_rows_are_gone():
    assert_empty()
    write()


@pytest.mark.django_db(databases=[SERVER], transaction=True)
def test_3_gone_again():
    assert_empty()
    write()


@pytest.mark.uses_db(SERVER, transaction=True)
def test_4_a_soft_delete_rule():
    assert_empty()
    execute("DROP TRIGGER keep ON widgets_exhibit",
            "CREATE RULE keep AS ON DELETE TO widgets_exhibit DO INSTEAD NOTHING")
    write()


@pytest.mark.uses_db(SERVER)
def test_5_all_gone():
    assert_empty()
'''


@pytest.mark.parametrize("backend", ["pg"], indirect=True)
def test_no_user_trigger_fires_where_django_s_flush_fires_none(inner, pytester, backend):
    """PostgreSQL: Django's flush truncates, which fires no ``DELETE`` trigger; so does the emptying when a table
    to empty has one (a trigger that refuses every delete: no teardown error; one that keeps the rows: gone)."""
    pytester.makepyfile(test_triggers=TRIGGERS)
    run = inner("-v", backend=backend)
    run.result.assert_outcomes(passed=5)
    assert "deletes are forbidden" not in run.out


# -- b: install-time rows changed without changing their number ------------------------------------------------

ROWS = '''
import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import TransactionTestCase
from inner_helpers import SERVER
from notes.models import Note

ROW = [(1, "from a data migration")]


def rows():
    return list(Note.objects.order_by("pk").values_list("pk", "text"))


@pytest.mark.uses_db(SERVER)
def test_0_the_data_migration_row():
    assert rows() == ROW


@pytest.mark.uses_db(SERVER, transaction=True)
def test_1_updates_it():
    assert rows() == ROW
    Note.objects.update(text="updated")


@pytest.mark.uses_db(SERVER, transaction=True)
def test_2_replaces_it():
    assert rows() == ROW
    Note.objects.all().delete()
    Note.objects.create(id=1, text="replaced")


@pytest.mark.django_db(databases=[SERVER], transaction=True)
def test_3_updates_it_through_django_db():
    assert rows() == ROW
    Note.objects.update(text="updated again")


@pytest.mark.uses_db(SERVER)
def test_4_it_is_back():
    assert rows() == ROW


@pytest.mark.uses_db("default", transaction=True)
def test_5_makes_a_content_type_lazily():
    ContentType.objects.create(app_label="lazy", model="thing")
    assert ContentType.objects.get_by_natural_key("lazy", "thing")  # cached


@pytest.mark.uses_db("default")
def test_6_it_is_gone_from_the_table_and_from_the_cache():
    with pytest.raises(ContentType.DoesNotExist):
        ContentType.objects.get_by_natural_key("lazy", "thing")


class TestLast(TransactionTestCase):  # Django's own flush empties every table: the row is gone at the end
    databases = {SERVER}

    def test_updates_it_last(self):
        assert rows() == ROW
        Note.objects.update(text="updated last")
'''


def test_install_rows_a_committing_test_changed_are_put_back(inner, pytester, backend):
    """A data-migration row that a committing test updated (or deleted and inserted again) is back for the next
    test; and for the next run: the warm database is kept although a Django ``TransactionTestCase`` flushed
    the row away last, and holds the row as the migration wrote it. A content type made by a committing test is
    gone from the table and from contenttypes' cache (as after Django's flush)."""
    write_project(pytester, test_rows=ROWS)
    options = ("-v", "--multidb-settings", "inner_settings")
    try:
        first = inner(*options, settings=False, backend=backend, warm=True)
        first.result.assert_outcomes(passed=8)
        assert "is not kept warm" not in first.out
        second = inner(*options, settings=False, backend=backend, warm=True)
        second.result.assert_outcomes(passed=8)
        assert {second.summary()[alias]["cache"] for alias in ("default", backend.alias)} == {"warm"}, second.out
    finally:
        inner("--multidb-clean", "--multidb-settings", "inner_settings", settings=False, backend=backend)


def one_database(backend, prefix: str) -> dict:
    """The settings of a ``default`` alias on ``backend``'s server (sqlite: a file), its NAME ``prefix`` + a
    random part."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    if backend.pg:
        return {"ENGINE": "django.db.backends.postgresql", "NAME": name, "HOST": PG["host"], "PORT": PG["port"],
                "USER": PG["user"]}
    if backend.maria:
        return {"ENGINE": "django.db.backends.mysql", "NAME": name, "HOST": MARIA["host"], "PORT": MARIA["port"],
                "USER": MARIA["user"]}
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}


CONTENT_TYPES_SETTINGS = """
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
DATABASES = {{"default": {default!r}}}
"""
CONTENT_TYPES = '''
import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType


@pytest.mark.django_db(transaction=True)
def test_1_deletes_a_content_type_and_its_permissions():
    assert Permission.objects.filter(content_type__model="group").count() == 4
    ContentType.objects.filter(model="group").delete()


@pytest.mark.django_db
def test_2_both_are_back():
    assert Permission.objects.filter(content_type__model="group").count() == 4
'''


@pytest.mark.parametrize("backend", ["sqlite", "pg", "maria"], indirect=True)
def test_install_rows_that_reference_each_other_are_put_back_whatever_the_order(inner, pytester, backend):
    """A committing test deletes a content type, and its permissions with it: both tables are put back, the
    permissions (``auth_permission``, first by name) before the content types they point at (on MariaDB, Django's
    flush turns foreign key checks on again at its end)."""
    default = one_database(backend, "multidb_ct")
    pytester.makepyfile(ct_settings=CONTENT_TYPES_SETTINGS.format(default=default), test_ct=CONTENT_TYPES)
    run = inner("-p", "no:cacheprovider", "--multidb-settings", "ct_settings", settings=False, backend=backend)
    run.result.assert_outcomes(passed=2)
    assert "emptying" not in run.out
    assert not run.leftovers()


# -- c: post_migrate after a committing django_db test, as under Django ----------------------------------------

SIGNALS = '''
import os

import pytest
from django.test import TransactionTestCase
from inner_helpers import SERVER
from notes.models import Note

NOTES = os.environ.get("NOTES_ALIAS") or SERVER


@pytest.mark.django_db(databases=[NOTES], transaction=True)
def test_django_db_transaction():
    Note.objects.create(text="t")


def test_transactional_db_fixture(transactional_db):
    pass


@pytest.mark.django_db(databases=[NOTES], transaction=True, available_apps=["notes"])
def test_available_apps_inhibit_it():
    Note.objects.create(text="t")


@pytest.mark.django_db(databases=[NOTES], transaction=True, serialized_rollback=True)
def test_serialized_rollback_inhibits_it():
    Note.objects.create(text="t")


@pytest.mark.django_db(databases=[NOTES])
def test_rolled_back():
    Note.objects.create(text="t")


@pytest.mark.uses_db(NOTES, transaction=True)
def test_uses_db_transaction():  # ours: the install-time baseline is restored, no post_migrate (docs/plugin.md)
    Note.objects.create(text="t")


class TestDjangoFlush(TransactionTestCase):
    databases = {NOTES}

    def test_commits(self):
        Note.objects.create(text="t")
'''


def signals(path) -> collections.Counter:
    """(test, phase, alias) of every ``post_migrate`` sent while a test called or tore down."""
    found: collections.Counter = collections.Counter()
    for line in path.read_text().splitlines() if path.exists() else ():
        current, _, alias = line.rpartition("|")
        test, _, phase = current.rpartition(" ")
        if phase != "(setup)":  # test databases made, migrations: not what is compared
            found[test.rpartition("::")[2], phase, alias] += 1
    return found


def test_post_migrate_is_sent_where_django_s_flush_sends_it(inner, pytester, backend):
    """After a committing ``django_db`` test (marker or ``transactional_db``) and a ``TransactionTestCase``, the
    handlers of ``post_migrate`` run for the alias, as Django's flush runs them; not with ``available_apps`` or
    ``serialized_rollback`` (Django inhibits it), not after a rolled-back test, not after ``uses_db``."""
    write_project(pytester, test_signals=SIGNALS)
    # On sqlite the notes go to alias 'a': through pytest-django, Django's flush of 'b' fails on the sample's
    # foreign key to a table of another connection (widgets_exhibit -> artists_artist).
    notes = "a" if backend == SQLITE else backend.alias
    expected = collections.Counter({
        ("test_django_db_transaction", "(teardown)", notes): 1,
        ("test_transactional_db_fixture", "(teardown)", "default"): 1,
        ("test_commits", "(call)", notes): 1,  # Django's TransactionTestCase flushes itself
    })
    ours = pytester.path / "ours.signals"
    run = inner("-v", "--multidb-settings", "inner_settings", settings=False, backend=backend,
                env={"SIGNALS_FILE": str(ours), "NOTES_ALIAS": notes})
    run.result.assert_outcomes(passed=7)
    assert signals(ours) == expected, signals(ours)
    if backend != SQLITE:
        return
    # The same suite through pytest-django (which cannot run uses_db): the same signals.
    pytester.makepyfile(test_signals=SIGNALS.split("\n\n@pytest.mark.uses_db")[0] + "\n\n\nclass TestDjangoFlush"
                        + SIGNALS.split("class TestDjangoFlush")[1])
    theirs = pytester.path / "theirs.signals"
    run = inner("-v", "-p", "no:multidb", "-p", "no:randomly", "--ds", "inner_settings", settings=False,
                plugins=False, env={"SIGNALS_FILE": str(theirs), "NOTES_ALIAS": notes})
    run.result.assert_outcomes(passed=6)
    assert signals(theirs) == expected, signals(theirs)


MATVIEW_SETTINGS = """
SECRET_KEY = "x"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["seeded"]
DATABASES = {{"default": {default!r}}}
"""
MATVIEW_SEED = ('    schema_editor.execute("CREATE MATERIALIZED VIEW seeded_texts AS SELECT text FROM seeded_note")')
MATVIEW_TESTS = '''
import pytest
from django.db import connection
from seeded.models import Note


def texts():
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM seeded_texts")
        return cursor.fetchall()


@pytest.mark.django_db
def test_a_the_view_is_as_its_migration_made_it():
    assert texts() == []


@pytest.mark.django_db(transaction=True)
def test_b_refreshes_it():
    Note.objects.create(text="n")
    with connection.cursor() as cursor:
        cursor.execute("REFRESH MATERIALIZED VIEW seeded_texts")
    assert texts() == [("n",)]
'''


@pytest.mark.servers
def test_a_refreshed_materialized_view_is_not_kept_warm(inner, pytester, servers):
    """A committing test refreshes a materialized view (PostgreSQL): no emptying puts its rows back, so the warm
    database is not kept with them; the next run gets the view as its migration made it, as pytest-django's."""
    default = {"ENGINE": "django.db.backends.postgresql", "NAME": f"multidb_mv_{uuid.uuid4().hex[:8]}",
               "HOST": PG["host"], "PORT": PG["port"], "USER": PG["user"]}
    pytester.makepyfile(mv_settings=MATVIEW_SETTINGS.format(default=default), test_mv=MATVIEW_TESTS)
    seeded_app(pytester, MATVIEW_SEED)
    options = ("-p", "no:cacheprovider", "--multidb-settings", "mv_settings")
    try:
        for _ in range(2):
            run = inner(*options, settings=False, warm=True)
            run.result.assert_outcomes(passed=2)
            assert "not kept warm: materialized views were refreshed since its schema was installed (seeded_texts)" \
                in run.out
    finally:
        inner("--multidb-clean", *options, settings=False)


SEQUENCE_SETTINGS = """
SECRET_KEY = "x"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["seeded"]
DATABASES = {{"default": {default!r}}}
"""
SEED_ONE = '    apps.get_model("seeded", "Note").objects.create(text="seed")'
SEQUENCE_TESTS = '''
import pytest
from seeded.models import Note


@pytest.mark.django_db(transaction=True)
def test_1_commits():
    Note.objects.create(text="1")


@pytest.mark.django_db(reset_sequences=True)
def test_2_reset_sequences_go_past_the_install_rows():
    assert Note.objects.create(text="2").pk == 2


@pytest.mark.django_db(transaction=True)
def test_3_the_next_row_gets_a_free_id():
    assert list(Note.objects.values_list("pk", "text")) == [(1, "seed")]
    Note.objects.create(text="3")
'''


@pytest.mark.parametrize("backend", ["sqlite", "pg", "maria"], indirect=True)
def test_reset_sequences_leave_the_install_rows_ids_taken(inner, pytester, backend):
    """A ``reset_sequences`` test on a table holding a data migration's row: its first row gets the next id, and
    after the test the sequence is past the reloaded row's id (PostgreSQL's flush restarts it under the row)."""
    default = one_database(backend, "multidb_seq")
    pytester.makepyfile(seq_settings=SEQUENCE_SETTINGS.format(default=default), test_seq=SEQUENCE_TESTS)
    seeded_app(pytester, SEED_ONE)
    run = inner("-p", "no:cacheprovider", "--multidb-settings", "seq_settings", settings=False, backend=backend)
    run.result.assert_outcomes(passed=3)
    assert not run.leftovers()


DDL_TESTS = '''
import pytest
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_leaves_a_column_behind():
    with connection.cursor() as cursor:
        columns = [c.name for c in connection.introspection.get_table_description(cursor, "seeded_note")]
        assert "extra" not in columns
        cursor.execute("ALTER TABLE seeded_note ADD COLUMN extra integer NULL")
'''


@pytest.mark.parametrize("backend", ["sqlite", "pg", "maria"], indirect=True)
def test_a_warm_database_a_committing_test_altered_is_not_kept(inner, pytester, backend):
    """A committing test that ran DDL (a column added to a table of the schema): the database is not kept warm,
    and the next run finds the table as its migration made it."""
    default = one_database(backend, "multidb_ddl")
    pytester.makepyfile(ddl_settings=SEQUENCE_SETTINGS.format(default=default), test_ddl=DDL_TESTS)
    seeded_app(pytester, SEED_ONE)
    options = ("-p", "no:cacheprovider", "--multidb-settings", "ddl_settings")
    try:
        for _ in range(2):
            run = inner(*options, settings=False, backend=backend, warm=True)
            run.result.assert_outcomes(passed=1)
            assert "not kept warm: columns, views, indexes or triggers were added, dropped or altered" in run.out
    finally:
        inner("--multidb-clean", *options, settings=False, backend=backend)
