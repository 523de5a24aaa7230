"""Helpers for the inner test runs of ``tests/support/inner.py`` (copied into each run's directory).

``SERVER`` is the alias on the backend under test (``b`` for sqlite and PostgreSQL, ``c`` for MariaDB), ``add`` /
``count`` write and count rows through the ORM, ``committed`` counts rows from a second connection (committed rows
only).
"""

import os

from django.db import connections

from sample_models.artists.models import Artist
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget

#: The alias on the backend under test: b (sqlite or PostgreSQL) or c (MariaDB).
SERVER = os.environ.get("INNER_SERVER_ALIAS", "b")
MODELS = {"a": Artist, "b": Widget, "c": Category}


def add(alias, name):
    """One row through the ORM into the table of the model that lives on ``alias``."""
    model = MODELS[alias]
    if model is Widget:
        return Widget.objects.create(code=name, weight=1)
    return model.objects.create(name=name)


def count(alias):
    return MODELS[alias].objects.count()


def raw_count(alias, table):
    """Rows of ``table`` through the test's own connection of ``alias`` (raw SQL, no routing)."""
    conn = connections[alias]
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def committed(alias):
    """Rows of the alias's model table seen from a second, independent connection: committed rows only."""
    conn = connections.create_connection(alias)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(MODELS[alias]._meta.db_table)}")
            return cursor.fetchone()[0]
    finally:
        conn.close()


def tables(alias):
    """Tables on ``alias`` seen from a second connection."""
    conn = connections.create_connection(alias)
    try:
        with conn.cursor() as cursor:
            return set(conn.introspection.table_names(cursor))
    finally:
        conn.close()
