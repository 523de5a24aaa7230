"""``call_command("multidb_migrate")`` in this process, on the layer's databases (migrated by the conftest).

The command on fresh databases, through ``manage.py`` as users run it, is in ``tests/commands``.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections as django_connections

from pytest_multidb import MigrateError, migrate_all
from pytest_multidb.migrate_all import migration_order, where


def test_up_to_date_databases_get_one_line_each_in_dependency_order():
    out = StringIO()
    call_command("multidb_migrate", stdout=out)
    # pg's exhibits point at a's artists: pg comes after a.
    assert out.getvalue().splitlines() == [
        f"{alias}: 0 migrations applied, 0 tables created ({where(alias)})" for alias in ["default", "a", "pg", "maria"]
    ]
    assert migration_order(["pg", "a"]) == ["a", "pg"]
    out = StringIO()
    call_command("multidb_migrate", "maria", "--plan", stdout=out)
    assert out.getvalue().splitlines() == [f"maria: up to date ({where('maria')})"]


@pytest.fixture
def gone():
    """Alias ``gone``: pg's settings with a port nobody listens on."""
    django_connections.settings["gone"] = {**django_connections.settings["pg"], "PORT": "9"}
    try:
        yield "gone"
    finally:
        django_connections["gone"].close()
        del django_connections["gone"]
        del django_connections.settings["gone"]


def test_a_failing_alias_raises_a_command_error_naming_it_and_stops(gone):
    out = StringIO()
    with pytest.raises(CommandError, match=r"^multidb_migrate stopped at alias 'gone' \(postgresql .*:9\): "
                                           r"OperationalError: .* Migrated before it: default; not attempted: a\. "):
        call_command("multidb_migrate", "default", gone, "a", stdout=out)
    assert [line.split(":")[0] for line in out.getvalue().splitlines()] == ["default"]

    written = []
    with pytest.raises(MigrateError) as raised:
        migrate_all([gone], written.append)
    assert (raised.value.alias, written) == ("gone", [])
