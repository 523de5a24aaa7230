"""``manage.py multidb_sql ALIAS [--drop | --reset-sequences]`` on the layer aliases."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from pytest_multidb import connections


def multidb_sql(*args: str) -> list[str]:
    out = StringIO()
    call_command("multidb_sql", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.mark.parametrize(("alias", "tables"), [
    ("a", ["artists_artist"]),
    ("pg", ["widgets_widget", "widgets_exhibit"]),
    ("maria", ["cycles_category", "cycles_author", "cycles_book", "cycles_book_categories"]),
])
def test_create_sql_of_each_alias(alias, tables):
    lines = multidb_sql(alias)
    assert lines == connections[alias].schema.create_sql()
    created = [line.split()[2].strip('"`') for line in lines if line.startswith("CREATE TABLE")]
    assert sorted(created) == sorted(tables)


def test_drop_sql_of_a_cycle_on_mariadb():
    lines = multidb_sql("maria", "--drop")
    assert lines == connections["maria"].schema.drop_sql()
    assert lines[0] == "SET FOREIGN_KEY_CHECKS = 0;"
    assert lines[-1] == "SET FOREIGN_KEY_CHECKS = 1;"
    assert sum(line.startswith("DROP TABLE") for line in lines) == 4


@pytest.mark.parametrize(("alias", "start"), [
    ("pg", "SELECT setval(pg_get_serial_sequence('\"widgets_"),
    ("maria", "ALTER TABLE `cycles_"),
    ("a", 'UPDATE "sqlite_sequence" SET "seq" = 0 WHERE "name" IN (\'artists_artist\')'),
])
def test_reset_sequences_sql(alias, start):
    lines = multidb_sql(alias, "--reset-sequences")
    assert lines == connections[alias].schema.reset_sequences_sql()
    assert lines
    assert all(line.startswith(start) for line in lines)


def test_unknown_alias_names_the_known_ones():
    with pytest.raises(CommandError, match=r"'nope' is not configured\. Known aliases: a, default, maria, pg\."):
        call_command("multidb_sql", "nope")


def test_drop_and_reset_sequences_exclude_each_other():
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("multidb_sql", "pg", "--drop", "--reset-sequences")
