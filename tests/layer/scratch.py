"""Helpers for the tests on scratch databases (the ``scratch`` fixture of ``conftest.py``): empty databases
beside the layer aliases, one per backend, that tests install models on."""

from contextlib import contextmanager

from pytest_multidb import connections, use_db
from sample_models.cycles.models import Author, Book, Category

CYCLES = [Author, Book, Category]
CYCLE_TABLES = {"cycles_author", "cycles_book", "cycles_category", "cycles_book_categories"}
#: Every foreign-key constraint of the cycles app: ``{table: {column: (target table, target column)}}``.
CYCLE_CONSTRAINTS = {
    "cycles_author": {"favourite_book_id": ("cycles_book", "id")},
    "cycles_book": {"author_id": ("cycles_author", "id")},
    "cycles_category": {"parent_id": ("cycles_category", "id")},
    "cycles_book_categories": {"book_id": ("cycles_book", "id"), "category_id": ("cycles_category", "id")},
}


@contextmanager
def cycles_routed_to(alias):
    with use_db(Author, alias), use_db(Book, alias), use_db(Category, alias):
        yield


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
