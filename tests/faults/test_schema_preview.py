"""The SQL previews (``connections["x"].schema.create_sql()`` / ``drop_sql()``) work inside a
rollback test (whose transaction is open) on sqlite, PostgreSQL and MariaDB aliases, leave the test's transaction
as it was, and give the same statements as in a committing test (no transaction open)."""

import pytest

pytestmark = pytest.mark.servers

PREVIEWS = '''
import pytest
from django.db import connections as django_connections
from inner_helpers import add, committed, count

from pytest_multidb import connections

ALIASES = ("a", "b", "c")
#: One table of each alias's app, and the vendor the alias runs on.
TABLES = {"a": "artists_artist", "b": "widgets_widget", "c": "cycles_category"}
VENDORS = {"a": "sqlite", "b": "postgresql", "c": "mysql"}
SEEN = {}


def previews(alias):
    schema = connections[alias].schema
    return schema.create_sql(), schema.drop_sql()


@pytest.mark.uses_db(*ALIASES)
def test_in_a_rollback_test():
    for alias in ALIASES:
        assert connections[alias].vendor == VENDORS[alias]
        add(alias, "before")
        assert django_connections[alias].in_atomic_block
        create, drop = SEEN[alias] = previews(alias)
        assert any(s.startswith("CREATE TABLE") and TABLES[alias] in s for s in create), create
        assert any(s.startswith("DROP TABLE") and TABLES[alias] in s for s in drop), drop
        add(alias, "after")  # the test's transaction goes on
        assert count(alias) == 2
        assert committed(alias) == 0
        assert TABLES[alias] in django_connections[alias].introspection.table_names()


@pytest.mark.uses_db(*ALIASES, transaction=True)
def test_in_a_committing_test_the_same():
    for alias in ALIASES:
        assert not django_connections[alias].in_atomic_block
        assert previews(alias) == SEEN[alias]
'''


def test_previews_inside_tests(inner, pytester):
    pytester.makepyfile(test_previews=PREVIEWS)
    run = inner("-v", env={"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"})
    run.result.assert_outcomes(passed=2)
    assert "NotSupportedError" not in run.out
    assert run.leftovers() == set()
