"""SchemaBuilder on a fresh scratch database of each backend: install order, cycles, drop, SQL previews, sequences."""

import pytest
from django.db import IntegrityError, transaction
from django.db import connections as django_connections

from pytest_multidb.schema import SchemaBuilder
from sample_models.artists.models import Artist
from sample_models.cycles.models import Author, Book, Category
from sample_models.widgets.models import Exhibit, Widget
from tests.layer.scratch import CYCLE_TABLES, CYCLES, cycles_routed_to, foreign_keys, make_cycle, tables

pytestmark = pytest.mark.usefixtures("empty_scratch")


@pytest.fixture
def cycles(scratch):
    """The cycles app installed on the scratch database, its models routed there."""
    builder = SchemaBuilder(scratch, models=CYCLES)
    builder.install()
    with cycles_routed_to(scratch):
        yield builder


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
