"""A read-only external alias: ``TEST["PROVISION"] = "existing"`` on a real PostgreSQL
database, a real MariaDB database and a real sqlite file, each with rows (made here, dropped afterwards).

Tests read them; every write (ORM insert and update, raw DELETE, DDL) is refused by the database with our one
line; each test's transaction is READ ONLY; ``transaction=True`` on such an alias is a usage error at collection;
``swap_db`` makes no table there; nothing is created, migrated, emptied, reset or dropped: afterwards the
databases are byte-for-byte unchanged (row counts, checksums, sequences; the sqlite file's bytes)."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid

import pytest

from tests.support.servers import MARIA, PG

pytestmark = pytest.mark.servers

SETTINGS = f'''
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "refdata"]
EXISTING = {{"PROVISION": "existing"}}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "real_default.db"}}}}
OTHER_DATABASES = {{
    "ref_pg": {{"ENGINE": "postgresql", "NAME": "NAME", "USER": "{PG["user"]}", "HOST": "{PG["host"]}",
                "PORT": "{PG["port"]}", "MODELS": ["refdata.Country", "refdata.Region"], "TEST": EXISTING}},
    "ref_maria": {{"ENGINE": "mysql", "NAME": "NAME", "USER": "{MARIA["user"]}", "HOST": "{MARIA["host"]}",
                   "PORT": "{MARIA["port"]}", "MODELS": ["refdata.Currency"], "TEST": EXISTING}},
    "ref_lite": {{"ENGINE": "sqlite3", "NAME": "LITE", "MODELS": ["refdata.Language"], "TEST": EXISTING}},
}}
'''

MODELS = '''
from django.db import models


class Country(models.Model):
    code = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=50)

    class Meta:
        managed = False
        db_table = "country"


class Currency(models.Model):
    code = models.CharField(max_length=3)

    class Meta:
        managed = False
        db_table = "currency"


class Language(models.Model):
    code = models.CharField(max_length=2)

    class Meta:
        managed = False
        db_table = "language"


class Region(models.Model):  # managed, on the existing alias: reset_sequences must not touch its sequence
    name = models.CharField(max_length=20)

    class Meta:
        db_table = "region"


class Visit(models.Model):  # managed, on default; references an unmanaged model of an existing alias: no W002
    country = models.ForeignKey(Country, models.DO_NOTHING, db_constraint=False)
'''

SUITE = '''
import pytest
from django.core import checks
from django.db import connections, transaction
from refdata.models import Country, Currency, Language, Region, Visit

from pytest_multidb.readonly import ReadOnlyAliasError

ALIASES = {"ref_pg": Country, "ref_maria": Currency, "ref_lite": Language}
READ_ONLY = {"ref_pg": "SHOW transaction_read_only", "ref_maria": "SELECT @@tx_read_only",
             "ref_lite": "PRAGMA query_only"}
each = pytest.mark.parametrize("alias", [pytest.param(a, marks=pytest.mark.uses_db(a)) for a in ALIASES])


@pytest.mark.uses_db("ref_pg", "ref_maria", "ref_lite", "default")
def test_reads_the_real_rows():
    assert sorted(Country.objects.values_list("code", flat=True)) == ["DE", "FR", "IT"]
    assert Currency.objects.count() == 2 and Language.objects.get(code="en").pk == 1
    assert connections["ref_pg"].settings_dict["NAME"].startswith("multidb_ext_")  # the real one, no test copy
    Visit.objects.create(country_id=Country.objects.get(code="FR").pk)  # the managed side writes as usual
    assert Visit.objects.get().country.name == "France"


@each
def test_the_transaction_is_read_only(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute(READ_ONLY[alias])
        assert str(cursor.fetchone()[0]) in ("on", "1")
    assert connections[alias].in_atomic_block


WRITES = {
    "insert": lambda model, alias: model.objects.create(code="XX"),
    "update": lambda model, alias: model.objects.update(code="ZZ"),
    "raw delete": lambda model, alias: connections[alias].cursor().execute(f"DELETE FROM {model._meta.db_table}"),
    "ddl": lambda model, alias: connections[alias].cursor().execute("CREATE TABLE intruder (id int)"),
}


@each
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_is_refused_with_one_line(alias, write):
    with pytest.raises(ReadOnlyAliasError) as refused, transaction.atomic(using=alias):
        WRITES[write](ALIASES[alias], alias)
    message = str(refused.value)
    assert "\\n" not in message
    assert message.startswith(f"alias {alias!r} is TEST['PROVISION'] = 'existing': its database is read-only in "
                              "tests and refused a write (")
    if (alias, write) != ("ref_maria", "ddl"):  # MariaDB's DDL ends the transaction (implicit commit) first
        assert ALIASES[alias].objects.count() in (2, 3)  # still readable in the same test


@each
def test_a_connection_made_apart_is_read_only_too(alias):
    conn = connections.create_connection(alias)  # as a thread's, or a Django test class's, would be
    try:
        with pytest.raises(ReadOnlyAliasError, match=f"alias {alias!r} is TEST"), conn.cursor() as cursor:
            cursor.execute(f"DELETE FROM {ALIASES[alias]._meta.db_table}")
    finally:
        conn.close()


@pytest.mark.uses_db("ref_pg", "ref_maria", "ref_lite", reset_sequences=True)
def test_reset_sequences_leaves_them_alone():
    assert Country.objects.order_by("pk").first().pk == 1 and Region.objects.get().name == "north"


@pytest.mark.uses_db("default")
def test_swap_db_makes_no_table_there(swap_db):
    with pytest.raises(pytest.fail.Exception) as failed:
        swap_db(Visit, "ref_pg")
    assert "'ref_pg' is TEST['PROVISION'] = 'existing' and has no table 'refdata_visit'" in str(failed.value)


def test_no_w002_for_an_existing_alias():
    assert [m.id for m in checks.run_checks(tags=["multidb"]) if m.id == "multidb.W002"] == []
'''

COMMITTING = '''
import pytest


@pytest.mark.uses_db("default", "ref_maria", transaction=True)
def test_commits():
    pass
'''


def _pg_state(servers, db: str) -> list:
    return servers.pg("SELECT count(*), md5(string_agg(c::text, ',' ORDER BY id)), "
                      "(SELECT last_value FROM country_id_seq), (SELECT last_value FROM region_id_seq), "
                      "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public') FROM country c", db)


def _maria_state(servers, db: str) -> list:
    return [*servers.maria("SELECT COUNT(*) FROM currency", db), *servers.maria("CHECKSUM TABLE currency", db),
            *servers.maria(f"SELECT AUTO_INCREMENT, (SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                           f"TABLE_SCHEMA = '{db}') FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' "
                           "AND TABLE_NAME = 'currency'")]


def test_existing_alias_is_read_only_and_untouched(inner, pytester, servers):
    db = f"multidb_ext_{uuid.uuid4().hex[:8]}"
    lite = pytester.path / "reference.sqlite3"
    servers.pg(f'CREATE DATABASE "{db}"')
    servers.maria(f"CREATE DATABASE `{db}`")
    try:
        servers.pg("CREATE TABLE country (id serial PRIMARY KEY, code varchar(2) UNIQUE, name varchar(50))", db)
        servers.pg("INSERT INTO country (code, name) VALUES ('DE', 'Germany'), ('FR', 'France'), ('IT', 'Italy')", db)
        servers.pg("CREATE TABLE region (id serial PRIMARY KEY, name varchar(20))", db)
        servers.pg("INSERT INTO region (name) VALUES ('north')", db)
        servers.maria("CREATE TABLE currency (id int AUTO_INCREMENT PRIMARY KEY, code varchar(3))", db)
        servers.maria("INSERT INTO currency (code) VALUES ('EUR'), ('CHF')", db)
        with sqlite3.connect(lite) as conn:
            conn.execute("CREATE TABLE language (id integer PRIMARY KEY AUTOINCREMENT, code varchar(2))")
            conn.execute("INSERT INTO language (code) VALUES ('en'), ('de')")
        conn.close()
        before = (_pg_state(servers, db), _maria_state(servers, db), hashlib.sha256(lite.read_bytes()).hexdigest())
        (pytester.path / "refdata").mkdir()
        (pytester.path / "refdata" / "__init__.py").write_text("")
        (pytester.path / "refdata" / "models.py").write_text(MODELS)
        pytester.makepyfile(inner_settings=SETTINGS.replace('"NAME": "NAME"', f'"NAME": "{db}"')
                            .replace('"LITE"', repr(str(lite))), test_existing=SUITE)
        run = inner("--multidb-settings", "inner_settings", "-v", settings=False)
        run.result.assert_outcomes(passed=22)
        summary = run.summary()
        for alias in ("ref_pg", "ref_maria", "ref_lite"):
            assert summary[alias]["kind"] == "existing" and summary[alias]["cache"] == "existing, read-only"
        assert summary["ref_pg"]["name"] == summary["ref_maria"]["name"] == db
        assert summary["ref_lite"]["name"] == str(lite)
        after = (_pg_state(servers, db), _maria_state(servers, db), hashlib.sha256(lite.read_bytes()).hexdigest())
        assert after == before
        assert run.leftovers() == set()

        pytester.makepyfile(test_existing=COMMITTING)
        refused = inner("--multidb-settings", "inner_settings", settings=False)
        assert refused.result.ret == pytest.ExitCode.USAGE_ERROR
        assert ("test_existing.py::test_commits: commits (transaction=) on 'ref_maria', which is TEST['PROVISION'] = "
                "'existing': its real database, read-only in tests. Fix: keep 'ref_maria' in rollback mode, or write "
                "to a test database alias.") in refused.err
        assert (_pg_state(servers, db), _maria_state(servers, db),
                hashlib.sha256(lite.read_bytes()).hexdigest()) == before
    finally:
        servers.pg(f'DROP DATABASE IF EXISTS "{db}"')
        servers.maria(f"DROP DATABASE IF EXISTS `{db}`")
    assert not [name for name in servers.databases() if db in name]
