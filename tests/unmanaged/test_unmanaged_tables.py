"""Tables for unmanaged models: a project with unmanaged models on a PostgreSQL alias
(one in the schema ``reporting``), a MariaDB alias and a sqlite alias; a managed model with a foreign key to an
unmanaged one (its migration needs the table), an unmanaged model with a foreign key to a managed one (built
after the migrations), an unmanaged many-to-many, an index and a check constraint.

With ``TEST["UNMANAGED"] = "create"`` (or ``--multidb-unmanaged=create``) the suite passes in rollback and
transaction modes, the schema cache restores the tables, and a change to an unmanaged model rebuilds them;
without it the tables are absent, as in Django (and ``multidb.W002`` says so)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.support.projects import ROOT
from tests.support.servers import MARIA, PG

pytestmark = pytest.mark.servers

COMMON = '''
"""The models and the migration of the apps legacy_pg, legacy_maria and legacy_lite (one per alias)."""
import os

import django
from django.db import migrations, models
from django.db.models import Q

CONSTRAINT = os.environ.get("INNER_FK_CONSTRAINT", "1") == "1"
EXTRA = os.environ.get("INNER_EXTRA") == "1"


def check(condition, name):
    return models.CheckConstraint(**{"condition" if django.VERSION >= (5, 1) else "check": condition}, name=name)


def define(app, sales_table):
    def model(name, fields, **meta):
        return type(name, (models.Model,), {"__module__": f"{app}.models", "Meta": type("Meta", (), meta), **fields})

    region = model("Region", {"name": models.CharField(max_length=50, unique=True)},
                   managed=False, db_table=f"{app}_region_legacy")
    tag = model("Tag", {"label": models.CharField(max_length=20)}, managed=False, db_table=f"{app}_tag_legacy")
    sale_fields = {"region": models.ForeignKey(region, models.CASCADE), "amount": models.IntegerField(),
                   "tags": models.ManyToManyField(tag)}
    if EXTRA:
        sale_fields["currency"] = models.CharField(max_length=3, default="EUR")
    sale = model("Sale", sale_fields, managed=False, db_table=sales_table,
                 indexes=[models.Index(fields=["amount"], name=f"{app}_amount_idx")],
                 constraints=[check(Q(amount__gte=0), f"{app}_amount_gte_0")])
    order = model("Order", {"region": models.ForeignKey(region, models.PROTECT, db_constraint=CONSTRAINT),
                            "note": models.CharField(max_length=20)})
    shipment = model("Shipment", {"order": models.ForeignKey(order, models.CASCADE),
                                  "weight": models.IntegerField()}, managed=False, db_table=f"{app}_shipment_legacy")
    return {m.__name__: m for m in (region, tag, sale, order, shipment)}


def migration(app):
    class Migration(migrations.Migration):
        initial = True
        dependencies = []
        operations = [
            migrations.CreateModel("Region", [("id", models.AutoField(primary_key=True)),
                                              ("name", models.CharField(max_length=50, unique=True))],
                                   options={"managed": False, "db_table": f"{app}_region_legacy"}),
            migrations.CreateModel("Order", [
                ("id", models.AutoField(primary_key=True)),
                ("region", models.ForeignKey(f"{app}.region", models.PROTECT, db_constraint=CONSTRAINT)),
                ("note", models.CharField(max_length=20)),
            ]),
        ]

    return Migration
'''

SETTINGS = f'''
import os

SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "legacy_pg", "legacy_maria", "legacy_lite"]
TEST = {{"UNMANAGED": os.environ["INNER_UNMANAGED"]}} if os.environ.get("INNER_UNMANAGED") else {{}}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "real_default.db"}}}}
OTHER_DATABASES = {{
    "pg": {{"ENGINE": "postgresql", "NAME": "NAME", "USER": "{PG["user"]}", "HOST": "{PG["host"]}",
            "PORT": "{PG["port"]}", "MODELS": ["legacy_pg"], "TEST": TEST}},
    "maria": {{"ENGINE": "mysql", "NAME": "NAME", "USER": "{MARIA["user"]}", "HOST": "{MARIA["host"]}",
               "PORT": "{MARIA["port"]}", "OPTIONS": {{"charset": "utf8mb4"}}, "MODELS": ["legacy_maria"],
               "TEST": TEST}},
    "lite": {{"ENGINE": "sqlite3", "NAME": "real_lite.db", "MODELS": ["legacy_lite"], "TEST": TEST}},
}}
'''

HELPERS = '''
import os

from django.apps import apps
from django.db import connections

ALIASES = {"pg": "legacy_pg", "maria": "legacy_maria", "lite": "legacy_lite"}


def models(alias):
    return [apps.get_model(ALIASES[alias], name) for name in ("Region", "Tag", "Sale", "Order", "Shipment")]


def tables_seen_apart(alias):
    """Every table of the alias's test database, PostgreSQL schemas included, from a second connection."""
    conn = connections.create_connection(alias)
    try:
        with conn.cursor() as cursor:
            if conn.vendor == "postgresql":
                cursor.execute("SELECT schemaname, tablename FROM pg_tables "
                               "WHERE schemaname IN ('public', 'reporting')")
                return {name if schema == "public" else f'"{schema}"."{name}"' for schema, name in cursor.fetchall()}
            return set(conn.introspection.table_names(cursor))
    finally:
        conn.close()


def rows_seen_apart(alias, table):
    conn = connections.create_connection(alias)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(table)}")
            return cursor.fetchone()[0]
    finally:
        conn.close()


def indexes(alias, model):
    conn = connections[alias]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'reporting' AND tablename = 'sales'")
            return {name for (name,) in cursor.fetchall()}
        return set(conn.introspection.get_constraints(cursor, model._meta.db_table))


def foreign_keys(alias, model):
    conn = connections[alias]
    with conn.cursor() as cursor:
        found = conn.introspection.get_constraints(cursor, model._meta.db_table)
    return {tuple(c["foreign_key"]) for c in found.values() if c["foreign_key"]}
'''

SUITE = '''
import os

import pytest
from django.db import IntegrityError, transaction
from um_helpers import ALIASES, foreign_keys, indexes, models, rows_seen_apart, tables_seen_apart


def each(**kwargs):
    return pytest.mark.parametrize("alias", [pytest.param(a, marks=pytest.mark.uses_db(a, **kwargs)) for a in ALIASES])


def fill(alias):
    Region, Tag, Sale, Order, Shipment = models(alias)
    region = Region.objects.create(name="north")
    sale = Sale.objects.create(region=region, amount=5)
    sale.tags.add(Tag.objects.create(label="t"))
    Shipment.objects.create(order=Order.objects.create(region=region, note="n"), weight=2)
    return region, sale


@each()
def test_rolled_back(alias):
    Region, Tag, Sale, Order, Shipment = models(alias)
    region, sale = fill(alias)
    assert Sale.objects.get(tags__label="t", region__order__note="n") == sale
    assert Shipment.objects.get().order.region == region
    if os.environ.get("INNER_EXTRA") == "1":
        assert Sale.objects.get().currency == "EUR"  # the column of the changed model exists
    with pytest.raises(IntegrityError), transaction.atomic(using=alias):
        Sale.objects.create(region=region, amount=-1)  # the check constraint
    with pytest.raises(IntegrityError), transaction.atomic(using=alias):
        Region.objects.create(name="north")  # unique
    assert f"{ALIASES[alias]}_amount_idx" in indexes(alias, Sale)
    assert (Region._meta.db_table, "id") in foreign_keys(alias, Order)  # the managed model's FK migrated
    assert rows_seen_apart(alias, Region._meta.db_table) == 0 or alias == "lite"


@each(transaction=True)
def test_committing(alias):
    Region, Tag, Sale, Order, Shipment = models(alias)
    fill(alias)
    assert rows_seen_apart(alias, Sale._meta.db_table) == 1
    assert rows_seen_apart(alias, Sale.tags.through._meta.db_table) == 1


@each(transaction=True, reset_sequences=True)
def test_committed_rows_are_emptied_and_sequences_reset(alias):
    Region, Tag, Sale, Order, Shipment = models(alias)
    assert [m.objects.count() for m in models(alias)] == [0, 0, 0, 0, 0]
    assert Sale.tags.through.objects.count() == 0
    assert fill(alias)[0].pk == 1 and Sale.objects.get().pk == 1


@each()
def test_nothing_left(alias):
    assert [m.objects.count() for m in models(alias)] == [0, 0, 0, 0, 0]
    if alias == "pg":
        assert '"reporting"."sales"' in tables_seen_apart(alias)
'''

ABSENT = '''
import pytest
from um_helpers import ALIASES, models, tables_seen_apart


@pytest.mark.parametrize("alias", [pytest.param(a, marks=pytest.mark.uses_db(a)) for a in ALIASES])
def test_unmanaged_tables_are_absent(alias):
    Region, Tag, Sale, Order, Shipment = models(alias)
    seen = tables_seen_apart(alias)
    assert Order._meta.db_table in seen  # the managed model is migrated (its FK has no constraint here)
    unmanaged = {Region._meta.db_table, Tag._meta.db_table, Sale._meta.db_table, Shipment._meta.db_table,
                 Sale.tags.through._meta.db_table}
    assert unmanaged & seen == set()
'''

CHECKS = '''
import os

from django.core import checks


def test_w002():
    found = [m for m in checks.run_checks(tags=["multidb"]) if m.id == "multidb.W002"]
    expected = [a for a in os.environ["EXPECT_W002"].split(",") if a]
    assert sorted(str(m.obj) for m in found) == sorted(f"legacy_{a}.Order.region" for a in expected)
    for message in found:
        assert "references the unmanaged model" in message.msg and "TEST['UNMANAGED'] = 'create'" in message.hint
'''


def _sources(out: str) -> dict[str, str]:
    """alias -> 'built' / 'cached', from the report's summary lines."""
    found = {}
    for line in out.splitlines():
        if line.startswith("multidb: ") and " schema " in line and line.rstrip().endswith(")"):
            found[line.split(":")[1].strip()] = line.rsplit(", ", 1)[1].rstrip(")")
    return found


def test_unmanaged_tables_on_three_backends(pytester, monkeypatch, servers):
    name = f"multidb_um_{uuid.uuid4().hex[:6]}"
    pytester.makepyfile(inner_settings=SETTINGS.replace('"NAME": "NAME"', f'"NAME": "{name}"'), um_common=COMMON,
                        um_helpers=HELPERS, test_suite=SUITE, test_absent=ABSENT, test_checks=CHECKS)
    for app, table in (("legacy_pg", '\'"reporting"."sales"\''), ("legacy_maria", "'legacy_maria_sales'"),
                       ("legacy_lite", "'legacy_lite_sales'")):
        (pytester.path / app / "migrations").mkdir(parents=True)
        (pytester.path / app / "__init__.py").write_text("")
        (pytester.path / app / "models.py").write_text(
            f"from um_common import define\n\nglobals().update(define({app!r}, {table}))\n")
        (pytester.path / app / "migrations" / "__init__.py").write_text("")
        (pytester.path / app / "migrations" / "0001_initial.py").write_text(
            f"from um_common import migration\n\nMigration = migration({app!r})\n")
    monkeypatch.setenv("PYTHONPATH", f"{pytester.path}{os.pathsep}{ROOT}")
    for var in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(var, raising=False)
    prefix = f"multidb_tpl_{name}_"
    try:
        _create_reuse_rebuild_absent(pytester, monkeypatch)
    finally:
        query = f"SELECT datname FROM pg_database WHERE left(datname, {len(prefix)}) = '{prefix}'"
        for (template,) in servers.pg(query):
            servers.pg(f'DROP DATABASE "{template}"')
    assert not [n for n in servers.databases() if name in n]  # test databases and templates: all gone


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str, passed: int,
         **env: str) -> dict[str, str]:
    with monkeypatch.context() as patch:
        for var in ("INNER_UNMANAGED", "INNER_EXTRA", "INNER_FK_CONSTRAINT"):
            patch.delenv(var, raising=False)
        patch.setenv("EXPECT_W002", "")
        for var, value in env.items():
            patch.setenv(var, value)
        result = pytester.runpytest_subprocess("-p", "no:django", "-p", "no:randomly",
                                               "--multidb-settings", "inner_settings", *args, timeout=120)
    result.assert_outcomes(passed=passed)
    return _sources(result.stdout.str())


def _create_reuse_rebuild_absent(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    three = {"pg", "maria", "lite"}
    # TEST["UNMANAGED"] = "create" on every alias: built, and no W002.
    assert _run(pytester, monkeypatch, "test_suite.py", "test_checks.py", passed=13,
                INNER_UNMANAGED="create") == dict.fromkeys(three, "built")
    # The run-wide option instead: the same schema, restored from the cache (the unmanaged tables with it).
    assert _run(pytester, monkeypatch, "test_suite.py", "--multidb-unmanaged=create",
                passed=12) == dict.fromkeys(three, "cached")
    # A new column on an unmanaged model: every alias rebuilds, and the column exists (checked in the suite).
    assert _run(pytester, monkeypatch, "test_suite.py", passed=12, INNER_UNMANAGED="create",
                INNER_EXTRA="1") == dict.fromkeys(three, "built")
    # Without it: Django's behaviour, no unmanaged table anywhere; W002 names each managed model's reference.
    _run(pytester, monkeypatch, "test_absent.py", "test_checks.py", passed=4, INNER_FK_CONSTRAINT="0",
         EXPECT_W002="pg,maria,lite")
    assert Path(pytester.path / "real_lite.db").exists() is False  # the real sqlite database was never made
