"""SchemaBuilder on a fresh scratch database of each backend: install order, cycles, drop, SQL previews, sequences."""

import os
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, transaction
from django.db import connections as django_connections

from pytest_multidb import connections, use_db
from pytest_multidb.schema import SchemaBuilder
from sample_models.artists.models import Artist
from sample_models.cycles.models import Author, Book, Category
from sample_models.widgets.models import Exhibit, Widget

CYCLES = [Author, Book, Category]
CYCLE_TABLES = {"cycles_author", "cycles_book", "cycles_category", "cycles_book_categories"}


@pytest.fixture(scope="module", params=["a", "pg", "maria"], ids=["sqlite", "postgresql", "mariadb"])
def scratch(request, tmp_path_factory):
    """A new, empty database beside a layer alias (same server, another NAME), as alias ``<alias>_scratch``."""
    server = django_connections[request.param]
    alias = f"{request.param}_scratch"
    if server.vendor == "sqlite":
        name = str(tmp_path_factory.mktemp("scratch") / "scratch.db")
    else:
        name = f"multidb_scratch_{os.environ['MULTIDB_LAYER_RUN']}"
        with server._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {server.ops.quote_name(name)}")
    django_connections.settings[alias] = {**django_connections.settings[request.param], "NAME": name}
    try:
        yield connections[alias]
    finally:
        django_connections[alias].close()
        del django_connections[alias]
        del django_connections.settings[alias]
        if server.vendor != "sqlite":
            with server._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE {server.ops.quote_name(name)}")


@contextmanager
def cycles_routed_to(alias):
    with use_db(Author, alias), use_db(Book, alias), use_db(Category, alias):
        yield


@pytest.fixture(autouse=True)
def leave_scratch_empty(scratch):
    """Whatever a test installed on the scratch database is dropped after it, even when the test failed."""
    yield
    connection = scratch.connection
    with connection.constraint_checks_disabled(), connection.schema_editor() as editor:
        for table in tables(scratch):
            editor.execute(editor.sql_delete_table % {"table": editor.quote_name(table)})


@pytest.fixture
def cycles(scratch):
    """The cycles app installed on the scratch database, its models routed there."""
    builder = SchemaBuilder(scratch, models=CYCLES)
    builder.install()
    with cycles_routed_to(scratch):
        yield builder


def tables(alias):
    return set(connections[alias].connection.introspection.table_names())


def foreign_keys(alias, table):
    """``{column: (target table, target column)}`` of the table's foreign-key constraints."""
    connection = connections[alias].connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {c["columns"][0]: c["foreign_key"] for c in constraints.values() if c["foreign_key"]}


def make_cycle():
    author = Author.objects.create(name="Ann")
    book = Book.objects.create(title="Book", author=author)
    author.favourite_book = book
    author.save()
    root = Category.objects.create(name="root")
    child = Category.objects.create(name="child", parent=root)
    book.categories.add(child)
    return author, book


def test_install_creates_the_tables_and_every_constraint_of_the_cycle(cycles, scratch):
    assert tables(scratch) == CYCLE_TABLES
    assert foreign_keys(scratch, "cycles_author") == {"favourite_book_id": ("cycles_book", "id")}
    assert foreign_keys(scratch, "cycles_book") == {"author_id": ("cycles_author", "id")}
    assert foreign_keys(scratch, "cycles_category") == {"parent_id": ("cycles_category", "id")}
    assert foreign_keys(scratch, "cycles_book_categories") == {
        "book_id": ("cycles_book", "id"),
        "category_id": ("cycles_category", "id"),
    }


def test_a_cycle_of_rows_round_trips_and_the_constraints_hold(cycles, scratch):
    author, book = make_cycle()
    assert author._state.db == book._state.db == scratch
    stored = Author.objects.using(scratch).get()
    assert stored.favourite_book.author == stored
    assert [c.parent.name for c in stored.favourite_book.categories.all()] == ["root"]
    with pytest.raises(IntegrityError), transaction.atomic(using=scratch):
        Book.objects.create(title="orphan", author_id=author.pk + 1000)
    assert Book.objects.count() == 1


def test_drop_removes_the_tables_even_with_a_cycle_of_rows(cycles, scratch):
    make_cycle()
    cycles.drop()
    assert tables(scratch) == set()


def test_sql_previews_run_nothing_and_replay_by_hand_even_with_a_cycle_of_rows(scratch):
    builder = SchemaBuilder(scratch, models=CYCLES)
    create, drop, reset = builder.create_sql(), builder.drop_sql(), builder.reset_sequences_sql()
    for statements in (create, drop, reset):
        assert statements
        assert all(isinstance(statement, str) for statement in statements)
    assert tables(scratch) == set()

    with scratch.connection.cursor() as cursor:
        for statement in create:
            cursor.execute(statement)
        assert tables(scratch) == CYCLE_TABLES
        assert foreign_keys(scratch, "cycles_author") == {"favourite_book_id": ("cycles_book", "id")}
        with cycles_routed_to(scratch):
            make_cycle()
        for statement in [*reset, *drop]:
            cursor.execute(statement)
    assert tables(scratch) == set()


def test_sql_previews_work_inside_a_transaction(scratch, monkeypatch):
    """Inside a transaction (a rollback test's) the previews come from a connection of their own, closed after:
    Django's sqlite schema editor refuses to open in a transaction."""
    builder = SchemaBuilder(scratch, models=CYCLES)
    outside = builder.create_sql(), builder.drop_sql()
    opened = []
    create_connection = django_connections.create_connection
    monkeypatch.setattr(django_connections, "create_connection",
                        lambda alias: opened.append(create_connection(alias)) or opened[-1])
    with transaction.atomic(using=scratch), scratch.connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert (builder.create_sql(), builder.drop_sql()) == outside
        assert scratch.connection.in_atomic_block  # the test's transaction is untouched
    assert len(opened) == 2
    assert all(connection.connection is None for connection in opened)
    assert tables(scratch) == set()


def test_cyclic_constraints_come_after_every_create_table(scratch):
    create = SchemaBuilder(scratch, models=CYCLES).create_sql()
    creates = [i for i, statement in enumerate(create) if statement.startswith("CREATE TABLE")]
    assert len(creates) == len(CYCLE_TABLES)
    cyclic = [i for i, statement in enumerate(create) if "favourite_book_id" in statement and "REFERENCES" in statement]
    assert len(cyclic) == 1
    if scratch.vendor == "sqlite":  # sqlite declares (deferred) references inline, even to later tables
        assert cyclic[0] in creates
    else:
        assert cyclic[0] > max(creates)
        assert "FOREIGN KEY" in create[cyclic[0]]


def test_reset_sequences_makes_the_next_id_one(cycles):
    Author.objects.bulk_create([Author(name=str(i)) for i in range(3)])
    Category.objects.create(name="c")
    Author.objects.all().delete()
    Category.objects.all().delete()
    assert Author.objects.create(name="without reset").pk == 4
    Author.objects.all().delete()

    cycles.reset_sequences()
    assert Author.objects.create(name="after reset").pk == 1
    assert Category.objects.create(name="after reset").pk == 1


@pytest.mark.parametrize(("models", "expected"), [
    ([Widget, Exhibit], {"widget_id": ("widgets_widget", "id")}),
    ([Widget, Exhibit, Artist], {"widget_id": ("widgets_widget", "id"), "artist_id": ("artists_artist", "id")}),
], ids=["artist-elsewhere", "artist-alongside"])
def test_a_foreign_key_to_another_connection_gets_no_constraint(scratch, models, expected):
    builder = SchemaBuilder(scratch, models=models)
    builder.install()
    try:
        assert foreign_keys(scratch, "widgets_exhibit") == expected
        introspection = scratch.connection.introspection
        with scratch.connection.cursor() as cursor:
            columns = {column.name for column in introspection.get_table_description(cursor, "widgets_exhibit")}
        assert {"widget_id", "artist_id"} <= columns
        assert Exhibit._meta.get_field("artist").db_constraint  # the field is left as it was
    finally:
        builder.drop()
    assert tables(scratch) == set()
