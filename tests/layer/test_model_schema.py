"""``Model.objects.schema``: one model's tables on the connection its manager uses now, on each backend.

A foreign-key cycle installed model by model, a foreign key to a model on another connection, and the
constraints left out for later.
"""

import warnings

import pytest
from django.db import IntegrityError, transaction

from pytest_multidb import MissingConstraint, MissingConstraintWarning, SchemaBuilder, use_db
from pytest_multidb.schema import DEFERRED, OTHER_CONNECTION
from sample_models.artists.models import Artist
from sample_models.cycles.models import Author, Book, Category
from sample_models.widgets.models import Exhibit, Widget
from tests.layer.scratch import CYCLE_CONSTRAINTS, CYCLE_TABLES, cycles_routed_to, foreign_keys, make_cycle, tables

pytestmark = pytest.mark.usefixtures("empty_scratch")


def install(model):
    """``model.objects.schema.install()``: ``(what it returned, the messages of the warnings it gave)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        left_out = model.objects.schema.install()
    assert all(w.category is MissingConstraintWarning for w in caught)
    return left_out, [str(w.message) for w in caught]


def all_foreign_keys(alias):
    return {table: foreign_keys(alias, table) for table in sorted(CYCLE_TABLES)}


def test_schema_is_a_builder_for_the_model_on_the_connection_it_uses_now(scratch):
    assert isinstance(Artist.objects.schema, SchemaBuilder)
    assert (Artist.objects.schema.alias, Artist.objects.schema.models) == ("a", [Artist])
    assert Book.objects.schema.alias == "maria"
    with use_db(Artist, scratch):
        assert Artist.objects.schema.alias == scratch
    assert Artist.objects.schema.alias == "a"
    Artist.objects.db = scratch
    try:
        assert Artist.objects.schema.alias == scratch
    finally:
        del Artist.objects.db
    assert Artist.objects.db_manager(scratch).schema.alias == scratch


def test_one_model_installs_resets_and_drops_alone_and_its_previews_run_nothing(scratch):
    with use_db(Widget, scratch):
        schema = Widget.objects.schema
        create, drop = schema.create_sql(), schema.drop_sql()
        assert tables(scratch) == set()
        assert schema.install() == []
        assert tables(scratch) == {"widgets_widget"}

        Widget.objects.bulk_create([Widget(code=str(i), weight=i) for i in range(3)])
        with scratch.connection.cursor() as cursor:  # not .delete(): it would look for exhibits, not installed
            cursor.execute("DELETE FROM widgets_widget")
        schema.reset_sequences()
        assert Widget.objects.create(code="x", weight=1).pk == 1

        schema.drop()
        assert tables(scratch) == set()
        with scratch.connection.cursor() as cursor:
            for statement in create:
                cursor.execute(statement)
            assert tables(scratch) == {"widgets_widget"}
            for statement in drop:
                cursor.execute(statement)
    assert tables(scratch) == set()


def deferred(alias, column, field, target, owner):
    table = target.lower()
    return (
        f"alias {alias!r}: {column} ({field}) has no foreign-key constraint yet: cycles.{target} has no table "
        f"'cycles_{table}' there. Install it ({target}.objects.schema.install() adds this constraint too), or once "
        f"the table exists run {owner}.objects.schema.add_missing_constraints()."
    )


def test_a_cycle_installed_model_by_model_ends_with_every_constraint(scratch):
    with cycles_routed_to(scratch):
        author_left, author_said = install(Author)
        book_left, book_said = install(Book)
        after_book = foreign_keys(scratch, "cycles_author")
        category_left, category_said = install(Category)

        assert tables(scratch) == CYCLE_TABLES
        assert all_foreign_keys(scratch) == CYCLE_CONSTRAINTS
        if scratch.vendor == "sqlite":  # sqlite declares references inline, to a table that comes later too
            assert author_left == book_left == category_left == []
            assert author_said == book_said == category_said == []
        else:
            assert author_said == [deferred(scratch, "cycles_author.favourite_book_id",
                                            "cycles.Author.favourite_book", "Book", "Author")]
            assert book_said == [deferred(scratch, "cycles_book_categories.category_id",
                                          "cycles.Book.categories.category", "Category", "Book")]
            assert category_said == []
            assert [str(m) for m in author_left + book_left] == author_said + book_said
            assert {m.reason for m in author_left + book_left} == {DEFERRED}
            assert category_left == []
            assert after_book == {"favourite_book_id": ("cycles_book", "id")}  # Book's install added it

        author, book = make_cycle()
        stored = Author.objects.get()
        assert stored.favourite_book.author == stored
        with pytest.raises(IntegrityError), transaction.atomic(using=scratch):
            Book.objects.create(title="orphan", author_id=author.pk + 1000)
        with pytest.raises(IntegrityError), transaction.atomic(using=scratch):
            book.categories.through.objects.create(book=book, category_id=1000)

        Author.objects.all().delete()  # (sqlite checks every reference once a table is dropped)
        Category.objects.all().delete()
        for model in (Book, Author, Category):  # each drops alone, tables pointing at it or not
            model.objects.schema.drop()
    assert tables(scratch) == set()


def test_add_missing_constraints_once_the_target_came_from_elsewhere(scratch):
    with cycles_routed_to(scratch):
        left, _said = install(Author)
        with scratch.connection.cursor() as cursor:  # Book's and Category's tables made by hand
            for statement in SchemaBuilder(scratch, models=[Book, Category]).create_sql():
                cursor.execute(statement)
        if scratch.vendor == "sqlite":
            assert left == []
            assert Author.objects.schema.add_missing_constraints() == []
        else:
            assert foreign_keys(scratch, "cycles_author") == {}
            assert Author.objects.schema.add_missing_constraints() == ["cycles_author.favourite_book_id"]
        assert all_foreign_keys(scratch) == CYCLE_CONSTRAINTS
        assert Author.objects.schema.add_missing_constraints() == []


def test_a_foreign_key_to_another_connection_is_left_out_and_the_result_says_why(scratch):
    with use_db(Widget, scratch), use_db(Exhibit, scratch):
        install(Widget)
        left, said = install(Exhibit)
        assert said == []  # not a warning: manage.py check says it (multidb.W001), and nothing can be done later
        assert left == [MissingConstraint(scratch, Exhibit._meta.get_field("artist"), OTHER_CONNECTION)]
        assert str(left[0]) == (
            f"alias {scratch!r}: widgets_exhibit.artist_id (widgets.Exhibit.artist) has no foreign-key constraint: "
            "artists.Artist lives on alias 'a', and a database cannot enforce a reference into another one "
            "(multidb.W001). Put both models on one alias, or set db_constraint=False on the field if intended."
        )
        assert foreign_keys(scratch, "widgets_exhibit") == {"widget_id": ("widgets_widget", "id")}
        assert Exhibit._meta.get_field("artist").db_constraint  # the field is left as it was
        widget = Widget.objects.create(code="w", weight=1)
        Exhibit.objects.create(widget=widget, artist_id=12345)  # no artist 12345 anywhere: nothing checks it
        assert Exhibit.objects.schema.add_missing_constraints() == []
