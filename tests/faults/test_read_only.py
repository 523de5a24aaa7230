"""An ``existing`` alias (``TEST["PROVISION"] = "existing"``: its configured, real
database, read-only in tests) on a real sqlite file, a real PostgreSQL database and a real MariaDB database, each
made here with a sentinel table and dropped afterwards; every test checks that their contents and tables are
exactly as before.

- A test cannot lift the read-only mode and write: the statements that would end the test's transaction or
  lift the read-only mode (``COMMIT``, ``SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE``, ``SET SESSION
  TRANSACTION READ WRITE``, ``PRAGMA query_only = OFF``, ...) are refused in one line naming the alias and the fix;
  a sqlite file is opened read-only (``mode=ro``), so not even the driver's own connection can write; the pytest
  header says whether the configured USER may write (a superuser may; a role with SELECT only may not).
- An ``existing`` alias whose database does not exist stops the run in one line (alias, ``NAME`` setting, fix),
  not "the server stopped answering" with a chained exception; the database is not created.
- ``migrate`` (or a schema editor) on an ``existing`` alias is refused in one line naming the alias, on every
  vendor, before its ``django_migrations`` table is attempted.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.inner import assert_no_traceback
from tests.support.servers import MARIA, PG

pytestmark = pytest.mark.servers

#: alias -> (the model's table, its model)
TABLES = {"ref_pg": "country", "ref_maria": "currency", "ref_lite": "language"}
ALIAS = {"pg": "ref_pg", "maria": "ref_maria", "sqlite": "ref_lite"}

MODELS = '''
from django.db import models


class Country(models.Model):
    code = models.CharField(max_length=3)

    class Meta:
        managed = False
        db_table = "country"


class Currency(models.Model):
    code = models.CharField(max_length=3)

    class Meta:
        managed = False
        db_table = "currency"


class Language(models.Model):
    code = models.CharField(max_length=3)

    class Meta:
        managed = False
        db_table = "language"


class Note(models.Model):  # managed, on default: the app has a migration, so migrate has work to do
    text = models.CharField(max_length=20)
'''

MIGRATION = '''
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    operations = [
        migrations.CreateModel("Note", [("id", models.AutoField(primary_key=True)),
                                        ("text", models.CharField(max_length=20))]),
    ]
'''

SETTINGS = '''
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "pytest_multidb", "refdata"]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "real_default.db"}}}}
OTHER_DATABASES = {{{aliases}}}
'''

#: alias -> (ENGINE, the server, the model it holds)
ALIAS_SETTINGS = {"ref_pg": ("postgresql", PG, "refdata.Country"), "ref_maria": ("mysql", MARIA, "refdata.Currency"),
                  "ref_lite": ("sqlite3", None, "refdata.Language")}


def alias_entry(alias: str, name: str, user: str) -> str:
    """``alias``'s entry of OTHER_DATABASES: its real database ``name``, as ``user``, TEST['PROVISION'] = 'existing'."""
    engine, server, model = ALIAS_SETTINGS[alias]
    settings = {"ENGINE": engine, "NAME": name, "MODELS": [model], "TEST": {"PROVISION": "existing"}}
    if server is not None:
        settings.update(USER=user, HOST=server["host"], PORT=str(server["port"]))
    return f"{alias!r}: {settings!r}, "


def refused(alias: str, sql: str, why: str) -> str:
    return (f"alias {alias!r} is TEST['PROVISION'] = 'existing': its database is read-only in tests and refused "
            f"{sql!r}, which would {why}. Fix: leave the transaction and the read-only mode of {alias!r} as they are, "
            "and write to a test database alias.")


def schema_refused(alias: str, how: str) -> str:
    return (f"alias {alias!r} is TEST['PROVISION'] = 'existing': its real database is read-only in tests and gets no "
            f"schema; refused {how}. Fix: migrate a test database alias (only those have a schema installed), or give "
            f"{alias!r} another TEST['PROVISION'] kind.")


END = "end the test's read-only transaction"
LIFT = "lift the read-only mode"


# -- the real databases: made here with a sentinel table, checked after every inner run, dropped -------------------


@dataclass
class RealDatabase:
    """One real database of ``vendor`` (``pg``, ``maria``, ``sqlite``) with the model's table and a sentinel."""

    vendor: str
    servers: object
    directory: Path
    name: str = field(default_factory=lambda: f"multidb_ro_{uuid.uuid4().hex[:8]}")
    roles: list[str] = field(default_factory=list)

    @property
    def alias(self) -> str:
        return ALIAS[self.vendor]

    @property
    def path(self) -> Path:
        return self.directory / f"{self.name}.sqlite3"

    @property
    def settings_name(self) -> str:
        return str(self.path) if self.vendor == "sqlite" else self.name

    def query(self, sql: str) -> list[tuple]:
        if self.vendor == "pg":
            return self.servers.pg(sql, self.name)
        if self.vendor == "maria":
            return self.servers.maria(sql, self.name)
        with sqlite3.connect(self.path) as conn:
            rows = conn.execute(sql).fetchall()
        conn.close()
        return rows

    def create(self) -> None:
        table = TABLES[self.alias]
        if self.vendor == "pg":
            self.servers.pg(f'CREATE DATABASE "{self.name}"')
            self.query(f"CREATE TABLE {table} (id serial PRIMARY KEY, code varchar(3))")
        elif self.vendor == "maria":
            self.servers.maria(f"CREATE DATABASE `{self.name}`")
            self.query(f"CREATE TABLE {table} (id int AUTO_INCREMENT PRIMARY KEY, code varchar(3))")
        else:
            self.query(f"CREATE TABLE {table} (id integer PRIMARY KEY AUTOINCREMENT, code varchar(3))")
        self.query(f"INSERT INTO {table} (code) VALUES ('one')")
        self.query("CREATE TABLE sentinel (id int PRIMARY KEY, note varchar(20))")
        self.query("INSERT INTO sentinel VALUES (1, 'keep me')")

    def contents(self) -> dict[str, object]:
        """The rows of both tables and the list of tables (what no test may change)."""
        if self.vendor == "pg":
            tables = self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        elif self.vendor == "maria":
            tables = self.query(f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{self.name}' "
                                "ORDER BY 1")
        else:
            tables = self.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
        return {"tables": tables, "sentinel": self.query("SELECT * FROM sentinel ORDER BY 1"),
                "rows": self.query(f"SELECT * FROM {TABLES[self.alias]} ORDER BY 1")}

    def drop(self) -> None:
        if self.vendor == "pg":
            self.servers.pg(f'DROP DATABASE IF EXISTS "{self.name}"')
            for role in self.roles:
                self.servers.pg(f'DROP ROLE IF EXISTS "{role}"')
        elif self.vendor == "maria":
            self.servers.maria(f"DROP DATABASE IF EXISTS `{self.name}`")
            for role in self.roles:
                self.servers.maria(f"DROP USER IF EXISTS '{role}'@'127.0.0.1', '{role}'@'localhost'")

    def reader(self) -> str:
        """A role that may only read this database (dropped with it)."""
        role = f"multidb_reader_{uuid.uuid4().hex[:8]}"
        self.roles.append(role)
        if self.vendor == "pg":
            self.servers.pg(f'CREATE ROLE "{role}" LOGIN')
            self.servers.pg(f'GRANT CONNECT ON DATABASE "{self.name}" TO "{role}"')
            self.query(f'REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO "{role}"; '
                       f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        else:
            for host in ("127.0.0.1", "localhost"):
                self.servers.maria(f"CREATE USER '{role}'@'{host}'")
                self.servers.maria(f"GRANT SELECT ON `{self.name}`.* TO '{role}'@'{host}'")
        return role


@pytest.fixture
def realdb(backend, servers, tmp_path_factory) -> Iterator[RealDatabase]:
    """The real database of the backend under test, made with its sentinel; dropped at the end."""
    database = RealDatabase(backend.name, servers, tmp_path_factory.mktemp("real"))
    try:
        database.create()
        yield database
    finally:
        database.drop()
    if backend.name != "sqlite":
        assert not [name for name in servers.databases() if database.name in name]


def write_project(pytester: pytest.Pytester, aliases: dict[str, tuple[str, str]], **tests: str) -> None:
    """The ``refdata`` app and ``inner_settings`` with ``aliases`` (alias -> (NAME, USER)) as existing aliases."""
    app = pytester.path / "refdata"
    (app / "migrations").mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text(MODELS)
    (app / "migrations" / "__init__.py").write_text("")
    (app / "migrations" / "0001_initial.py").write_text(MIGRATION)
    entries = "".join(alias_entry(alias, name, user) for alias, (name, user) in aliases.items())
    pytester.makepyfile(inner_settings=SETTINGS.format(aliases=entries), **tests)


def run_inner(inner, realdb: RealDatabase, *args: str, env: dict[str, str] | None = None):
    before = realdb.contents()
    run = inner("--multidb-settings", "inner_settings", "-v", *args, settings=False, env=env)
    assert realdb.contents() == before, run.out  # the sentinel and the model's rows intact, no table added
    assert "INTERNALERROR" not in run.out + run.err
    return run


def user_of(vendor: str) -> str:
    return {"pg": PG["user"], "maria": MARIA["user"]}.get(vendor, "")


# -- the read-only mode cannot be lifted ---------------------------------------------------------------------------

#: Per alias: statements a test could run to end its transaction or lift the read-only mode, and why each is refused.
LIFTS = {
    "ref_pg": [
        ("COMMIT", END), ("END", END), ("ROLLBACK", END), ("ABORT", END),
        ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", LIFT),
        ("SET default_transaction_read_only = off", LIFT),
        ("SET transaction_read_only TO off", LIFT),
        ("SELECT set_config('default_transaction_read_only', 'off', false)", LIFT),
        ("RESET ALL", LIFT),
        ("commit; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; COMMIT; INSERT INTO country (code) "
         "VALUES ('bad'); COMMIT", END),
        ("DO $$ BEGIN EXECUTE 'SET default_transaction_read_only = off'; END $$", LIFT),
    ],
    "ref_maria": [
        ("COMMIT", END), ("ROLLBACK", END), ("BEGIN", END), ("START TRANSACTION READ WRITE", END),
        ("SET autocommit = 1", END),
        ("SET SESSION TRANSACTION READ WRITE", LIFT),
        ("SET TRANSACTION READ WRITE", LIFT),
        ("SET SESSION tx_read_only = 0", LIFT),
        ("SET @@session.transaction_read_only = OFF", LIFT),
        ("COMMIT; SET SESSION TRANSACTION READ WRITE; INSERT INTO currency (code) VALUES ('bad'); COMMIT", END),
    ],
    "ref_lite": [
        ("PRAGMA query_only = OFF", LIFT), ("PRAGMA query_only(0)", LIFT), ("pragma query_only = false", LIFT),
        ("COMMIT", END), ("END TRANSACTION", END), ("ROLLBACK", END),
    ],
}
READ_ONLY = {"ref_pg": "SHOW transaction_read_only", "ref_maria": "SELECT @@tx_read_only",
             "ref_lite": "PRAGMA query_only"}

LIFT_SUITE = '''
import os
import sqlite3

import pytest
from django.db import connections
from refdata.models import Country, Currency, Language

from pytest_multidb.readonly import ReadOnlyAliasError

ALIAS = os.environ["INNER_ALIAS"]
MODEL = {{"ref_pg": Country, "ref_maria": Currency, "ref_lite": Language}}[ALIAS]
LIFTS = {lifts!r}
READ_ONLY = {read_only!r}


def still_read_only():
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(READ_ONLY[ALIAS])
        assert str(cursor.fetchone()[0]) in ("on", "1")
    assert MODEL.objects.count() == 1  # the test's transaction goes on
    with pytest.raises(ReadOnlyAliasError):
        MODEL.objects.create(code="bad")


@pytest.mark.uses_db(ALIAS)
@pytest.mark.parametrize(("sql", "line"), LIFTS)
def test_lifting_is_refused_in_one_line(sql, line):
    with pytest.raises(ReadOnlyAliasError) as refused, connections[ALIAS].cursor() as cursor:
        cursor.execute(sql)
    assert str(refused.value) == line
    still_read_only()


@pytest.mark.uses_db(ALIAS)
def test_every_lift_in_turn_then_a_write():
    """What a test bent on writing would do: each statement whose refusal it swallows, then the write."""
    with connections[ALIAS].cursor() as cursor:
        for sql, line in LIFTS:
            for part in [sql] if sql.startswith("DO") else sql.split(";"):
                if part.strip().upper().startswith("INSERT"):  # a write the database refuses: that is known
                    continue
                try:
                    cursor.execute(part)
                except ReadOnlyAliasError:
                    pass
    still_read_only()


@pytest.mark.uses_db(ALIAS)
def test_a_connection_made_apart_is_guarded_too():
    conn = connections.create_connection(ALIAS)
    try:
        with pytest.raises(ReadOnlyAliasError, match="refused"), conn.cursor() as cursor:
            cursor.execute(LIFTS[0][0])
    finally:
        conn.close()


@pytest.mark.skipif(ALIAS != "ref_lite", reason="sqlite only")
@pytest.mark.uses_db(ALIAS)
def test_the_sqlite_file_is_opened_read_only():
    raw = connections[ALIAS].connection  # the driver's connection: past Django's cursor and every wrapper
    raw.execute("PRAGMA query_only = OFF")
    with pytest.raises(sqlite3.OperationalError, match="readonly database"):
        raw.execute("INSERT INTO language (code) VALUES ('bad')")
        raw.commit()


@pytest.mark.skipif(ALIAS != "ref_maria", reason="MariaDB only")
@pytest.mark.uses_db(ALIAS)
def test_ddl_no_longer_ends_the_transaction_on_mariadb():
    with pytest.raises(ReadOnlyAliasError) as refused, connections[ALIAS].cursor() as cursor:
        cursor.execute("CREATE TABLE intruder (id int)")
    assert str(refused.value) == (
        "alias 'ref_maria' is TEST['PROVISION'] = 'existing': its database is read-only in tests and refused a write "
        "('CREATE TABLE intruder (id int)', which would commit the test's transaction before it: DDL commits "
        "implicitly on MariaDB/MySQL). Fix: write to a test database alias, or give 'ref_maria' another "
        "TEST['PROVISION'] kind.")
    still_read_only()
'''


@pytest.mark.parametrize("backend", ["sqlite", "pg", "maria"], indirect=True)
def test_the_read_only_mode_cannot_be_lifted(inner, pytester, backend, realdb):
    alias = realdb.alias
    # The message quotes the first refused statement of the string (a DO block is one).
    lifts = [(sql, refused(alias, sql if sql.startswith("DO") else sql.split(";")[0], why))
             for sql, why in LIFTS[alias]]
    write_project(pytester, {alias: (realdb.settings_name, user_of(backend.name))},
                  test_lifts=LIFT_SUITE.format(lifts=lifts, read_only=READ_ONLY))
    run = run_inner(inner, realdb, env={"INNER_ALIAS": alias})
    own = 0 if backend.name == "pg" else 1  # sqlite and MariaDB have a test of their own, skipped on the others
    run.result.assert_outcomes(passed=len(lifts) + 2 + own, skipped=2 - own)


#: What the connection of an existing alias must still run: reads, savepoints, Django's own statements (columns that
#: happen to be named like a switch, text that happens to say "read write").
ALLOWED = [
    ("postgresql", "SET TRANSACTION READ ONLY"), ("postgresql", "SAVEPOINT s1"),
    ("postgresql", "ROLLBACK TO SAVEPOINT s1"), ("postgresql", "RELEASE SAVEPOINT s1"),
    ("postgresql", "SET CONSTRAINTS ALL IMMEDIATE"),
    ("postgresql", "SHOW transaction_read_only"), ("postgresql", "SET default_transaction_read_only = on"),
    ("postgresql", 'SELECT "t"."autocommit", "t"."query_only" FROM "t" WHERE "t"."tx_read_only" = %s'),
    ("postgresql", "SELECT * FROM t WHERE note = 'commit; begin read write'"),
    ("postgresql", "DO $body$ BEGIN PERFORM 1; END $body$"),
    ("mysql", "SET SESSION TRANSACTION READ ONLY"), ("mysql", "SELECT @@tx_read_only"), ("mysql", "SAVEPOINT `s1`"),
    ("mysql", "ROLLBACK TO SAVEPOINT `s1`"), ("mysql", "SET foreign_key_checks = 0"),
    ("mysql", "CREATE TEMPORARY TABLE scratch (id int)"), ("mysql", "SELECT `t`.`autocommit` FROM `t` # COMMIT"),
    ("sqlite", "BEGIN"), ("sqlite", "PRAGMA query_only = ON"), ("sqlite", "PRAGMA query_only"),
    ("sqlite", "PRAGMA foreign_keys = OFF"), ("sqlite", "PRAGMA foreign_key_check"),
    ("sqlite", 'SELECT COUNT(*) FROM "language" WHERE "code" = %s'),
]


@pytest.mark.parametrize(("vendor", "sql"), ALLOWED)
def test_reads_and_savepoints_are_not_refused(vendor, sql):
    from pytest_multidb.readonly import refusal

    assert refusal(vendor, sql) is None


# -- the pytest header: may the configured USER write? ------------------------------------------------------------

HEADER_SUITE = '''
def test_nothing():
    pass
'''


@pytest.mark.parametrize("backend", ["sqlite", "pg", "maria"], indirect=True)
def test_the_header_says_whether_the_user_may_write(inner, pytester, backend, realdb):
    alias = realdb.alias
    if backend.name == "sqlite":
        write_project(pytester, {alias: (realdb.settings_name, "")}, test_header=HEADER_SUITE)
        run = run_inner(inner, realdb)
        assert (f"multidb: existing alias {alias!r}: its sqlite file is opened read-only (mode=ro); no statement can "
                "write to it") in run.out.splitlines()
        return
    superuser = user_of(backend.name)
    write_project(pytester, {alias: (realdb.name, superuser)}, test_header=HEADER_SUITE)
    run = run_inner(inner, realdb)
    may_write = next(line for line in run.out.splitlines() if line.startswith(f"multidb: existing alias {alias!r}"))
    privileges = "a superuser" if backend.name == "pg" else "ALL PRIVILEGES ON *.*"
    assert may_write == (
        f"multidb: existing alias {alias!r}: USER {superuser!r} may write ({privileges}); tests are read-only by their "
        "session and transactions only. Fix: connect it as a role with SELECT only (the real guarantee)")

    reader = realdb.reader()
    write_project(pytester, {alias: (realdb.name, reader)}, test_header=HEADER_SUITE)
    run = run_inner(inner, realdb)
    run.result.assert_outcomes(passed=1)
    assert (f"multidb: existing alias {alias!r}: USER {reader!r} has no write privilege on it; read-only by its role, "
            "its session and its transactions") in run.out.splitlines()


# -- the configured database does not exist -----------------------------------------------------------------------

MISSING_SUITE = '''
import pytest
from refdata.models import Country, Currency


@pytest.mark.uses_db("ref_pg")
def test_pg():
    assert Country.objects.count() == 1


@pytest.mark.uses_db("ref_maria")
def test_maria():
    assert Currency.objects.count() == 1
'''

VENDOR = {"pg": ("PostgreSQL", PG), "maria": ("MariaDB/MySQL", MARIA)}


@pytest.mark.parametrize("backend", ["pg", "maria"], indirect=True)
def test_a_missing_database_is_one_line(inner, pytester, backend, realdb, servers):
    alias = realdb.alias
    missing = f"multidb_missing_{uuid.uuid4().hex[:8]}"
    write_project(pytester, {alias: (missing, user_of(backend.name))}, test_missing=MISSING_SUITE)
    run = run_inner(inner, realdb, "-k", backend.name)
    text = run.out + run.err
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR, text
    vendor, server = VENDOR[backend.name]
    line = (f"multidb: alias {alias!r} (OTHER_DATABASES[{alias!r}]['NAME'] with TEST['PROVISION'] = 'existing'): the "
            f"database {missing!r} does not exist on the {vendor} server {server['host']}:{server['port']} (an "
            "existing alias reads its configured database; nothing is created). Fix: point NAME at the database the "
            "tests should read, create it there, or choose another TEST['PROVISION'] kind (e.g. 'server': a test "
            "database made for the run).")
    assert f"Exit: {line}" in text, text
    assert text.count("does not exist") == 1, text  # said once, in that line
    assert "stopped answering" not in text, text
    assert_no_traceback(text)
    run.result.assert_outcomes()  # stopped before any test ran
    assert not [name for name in servers.databases() if missing in name]  # nothing was created


# -- migrate and schema editors on an existing alias --------------------------------------------------------------

MIGRATE_SUITE = '''
import os

import pytest
from django.core.management import call_command
from django.db import connections
from refdata.models import Country, Currency, Language

from pytest_multidb.readonly import ReadOnlyAliasError

ALIAS = os.environ["INNER_ALIAS"]
MODEL = {{"ref_pg": Country, "ref_maria": Currency, "ref_lite": Language}}[ALIAS]


@pytest.mark.uses_db(ALIAS)
@pytest.mark.parametrize("options", [{{}}, {{"run_syncdb": True}}, {{"app_label": "refdata"}}])
def test_migrate_is_refused_in_one_line(options):
    with pytest.raises(ReadOnlyAliasError) as refused:
        call_command("migrate", database=ALIAS, verbosity=0, interactive=False, **options)
    assert str(refused.value) == {migrate!r}
    assert MODEL.objects.count() == 1  # the test's transaction goes on


@pytest.mark.uses_db(ALIAS)
def test_a_schema_editor_is_refused_in_one_line():
    from refdata.models import Note

    with pytest.raises(ReadOnlyAliasError) as refused, connections[ALIAS].schema_editor() as editor:
        editor.create_model(Note)
    assert str(refused.value) == {editor!r}
    if ALIAS != "ref_lite":  # (sqlite's editor cannot be entered in a transaction at all, even to collect SQL)
        with connections[ALIAS].schema_editor(collect_sql=True) as editor:  # collecting SQL (sqlmigrate) is allowed
            editor.create_model(Note)
        assert editor.collected_sql
    assert MODEL.objects.count() == 1

'''

@pytest.mark.parametrize("backend", ["sqlite", "pg", "maria"], indirect=True)
def test_migrate_on_an_existing_alias_is_one_line(inner, pytester, backend, realdb):
    alias = realdb.alias
    suite = MIGRATE_SUITE.format(migrate=schema_refused(alias, f"migrate (database={alias!r})"),
                                 editor=schema_refused(alias, "a schema editor (connection.schema_editor())"))
    write_project(pytester, {alias: (realdb.settings_name, user_of(backend.name))}, test_migrate=suite)
    run = run_inner(inner, realdb, env={"INNER_ALIAS": alias})
    run.result.assert_outcomes(passed=4)
    assert "MigrationSchemaMissing" not in run.out
