"""The schema cache is rebuilt when a migration file, ``MODELS``, the engine or ``--multidb-no-migrations``
changes (a model change: ``test_cache_and_cleanup.py``), and xdist workers share one build under the lock.

Each inner run writes what its alias's schema holds (``facts.json``); the summary line says ``built`` or
``cached``. Every rebuild is checked on the schema too: a stale cache would restore the old tables.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest

from tests.support.servers import PG

ROOT = Path(__file__).resolve().parents[2]

SETTINGS = """
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = {apps!r}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "real_default.db"}}}}
OTHER_DATABASES = {{"x": {{"ENGINE": {engine!r}, "NAME": "real_x.db", "MODELS": {models!r}}}, **{extra!r}}}
"""
MODELS = """
import os
import time

from django.db import models
from django.db.models.signals import post_migrate


class Order(models.Model):
    code = models.CharField(max_length=20)


def slow(app_config, **kwargs):
    if app_config.label == "shopapp":  # once per migrate: a build long enough for xdist workers to meet
        time.sleep(float(os.environ.get("SHOP_SLOW", "0")))


post_migrate.connect(slow)
"""
MIGRATION = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Order", [("id", models.AutoField(primary_key=True)),
                                         ("code", models.CharField(max_length=20))]),
        # No model hint: runs where the app label is routed (MODELS ["shopapp"]), not for ["shopapp.Order"].
        migrations.RunSQL("CREATE TABLE shopapp_extra ({columns})", "DROP TABLE shopapp_extra"),
    ]
"""
# A third-party sqlite backend (its module path ends in "sqlite3": same vendor, same cache strategy).
ENGINE = """
from django.db.backends.sqlite3.base import DatabaseWrapper as Base


class DatabaseWrapper(Base):
    data_types = {**Base.data_types, "CharField": "text"}
"""
FACTS = """
import json
import pytest

from django.db import connections


@pytest.mark.uses_db("x")
def test_facts():
    conn = connections["x"]
    with conn.cursor() as cursor:
        tables = sorted(conn.introspection.table_names(cursor))
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'shopapp_order'")
        order = cursor.fetchone()[0]
        extra = [c.name for c in conn.introspection.get_table_description(cursor, "shopapp_extra")] \\
            if "shopapp_extra" in tables else None
        migrated = None
        if "django_migrations" in tables:
            cursor.execute("SELECT app, name FROM django_migrations WHERE app = 'shopapp'")
            migrated = cursor.fetchall()
    with open("facts.json", "w") as out:
        json.dump({"tables": tables, "order": order, "extra": extra, "migrated": migrated}, out)
"""


class Shop:
    """A project with one sqlite alias ``x``; its settings, migration and engine rewritten between runs."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        app = pytester.path / "shopapp"
        (app / "migrations").mkdir(parents=True)
        (app / "__init__.py").write_text("")
        (app / "migrations" / "__init__.py").write_text("")
        (app / "models.py").write_text(MODELS)
        engine = pytester.path / "shopengine" / "sqlite3"
        engine.mkdir(parents=True)
        (engine.parent / "__init__.py").write_text("")
        (engine / "__init__.py").write_text("")
        (engine / "base.py").write_text(ENGINE)
        self.migration(columns="a integer")
        self.settings()
        pytester.makepyfile(test_facts=FACTS)
        monkeypatch.setenv("PYTHONPATH", f"{pytester.path}{os.pathsep}{ROOT}")
        for var in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "SHOP_SLOW"):
            monkeypatch.delenv(var, raising=False)

    def settings(self, engine: str = "django.db.backends.sqlite3", models: tuple[str, ...] = ("shopapp",),
                 apps: tuple[str, ...] = (), extra: dict | None = None) -> None:
        text = SETTINGS.format(apps=["pytest_multidb", "shopapp", *apps], engine=engine, models=list(models),
                               extra=extra or {})
        (self.pytester.path / "shop_settings.py").write_text(text)

    def migration(self, columns: str) -> None:
        path = self.pytester.path / "shopapp" / "migrations" / "0001_initial.py"
        path.write_text(MIGRATION.format(columns=columns))

    def run(self, *args: str, passed: int = 1) -> pytest.RunResult:
        result = self.pytester.runpytest_subprocess("-p", "no:django", "-p", "no:randomly",
                                                    "--multidb-settings", "shop_settings", *args)
        result.assert_outcomes(passed=passed)
        return result

    def facts(self) -> dict:
        return json.loads((self.pytester.path / "facts.json").read_text())


def schema_of(result: pytest.RunResult) -> list[tuple[str, str, str]]:
    """``(worker, alias, built|cached)`` for every summary line (worker ``""`` outside xdist)."""
    found = []
    for line in result.stdout.lines:
        match = re.match(r"^(?:\[(gw\d+)\] )?multidb: (\w+): \w+ \S+ \S+ \([\d.]+s \+ schema [\d.]+s, (\w+)\)$", line)
        if match:
            found.append((match[1] or "", match[2], match[3]))
    return found


def test_cache_is_rebuilt_when_migrations_models_engine_or_no_migrations_change(pytester, monkeypatch):
    shop = Shop(pytester, monkeypatch)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # rewritten files within a second: no stale .pyc
    migrated = [["shopapp", "0001_initial"]]
    tables = ["django_migrations", "shopapp_extra", "shopapp_order"]

    assert schema_of(shop.run()) == [("", "x", "built")]
    first = shop.facts()
    assert (first["tables"], first["extra"], first["migrated"]) == (tables, ["a"], migrated)
    assert schema_of(shop.run()) == [("", "x", "cached")]
    assert shop.facts() == first

    # --multidb-no-migrations: the schema builder makes every table; no migration ran, none is recorded.
    assert schema_of(shop.run("--multidb-no-migrations")) == [("", "x", "built")]
    assert shop.facts() == {"tables": ["shopapp_order"], "order": first["order"], "extra": None, "migrated": None}

    # A migration file changes (not the model): rebuilt, with the migration's new column.
    shop.migration(columns="a integer, b integer")
    assert schema_of(shop.run()) == [("", "x", "built")]
    assert (shop.facts()["tables"], shop.facts()["extra"]) == (tables, ["a", "b"])

    # MODELS changes, the models on x stay the same (Order): the migration's RunSQL no longer runs on x.
    shop.settings(models=("shopapp.Order",))
    assert schema_of(shop.run()) == [("", "x", "built")]
    assert (shop.facts()["tables"], shop.facts()["migrated"]) == (["django_migrations", "shopapp_order"], migrated)

    # The engine changes (same vendor): rebuilt with the new backend's column types.
    shop.settings(engine="shopengine.sqlite3", models=("shopapp.Order",))
    assert schema_of(shop.run()) == [("", "x", "built")]
    assert '"code" varchar(20) NOT NULL' in first["order"]
    assert '"code" text NOT NULL' in shop.facts()["order"], shop.facts()["order"]
    assert schema_of(shop.run()) == [("", "x", "cached")]


IMPORTED = """
import json
import sys


def test_which_migration_modules_are_imported():
    with open("imported.json", "w") as out:
        json.dump(sorted(name for name in sys.modules if name.rpartition(".")[2][:4].isdigit()), out)
"""


def test_migration_files_are_read_not_imported_and_migration_modules_followed(pytester, monkeypatch):
    """The cache key reads the migration files of the package Django would load (``MIGRATION_MODULES``
    honoured) without importing them: a run restoring its schema imports no migration module."""
    shop = Shop(pytester, monkeypatch)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # rewritten files within a second: no stale .pyc
    elsewhere = pytester.path / "shop_migrations"
    elsewhere.mkdir()
    (elsewhere / "__init__.py").write_text("")

    def migration(columns: str) -> None:
        (elsewhere / "0001_initial.py").write_text(MIGRATION.format(columns=columns))

    migration("m integer")
    with (pytester.path / "shop_settings.py").open("a") as settings:
        settings.write('MIGRATION_MODULES = {"shopapp": "shop_migrations"}\n')
    pytester.makepyfile(test_imported=IMPORTED)

    def imported() -> list[str]:
        return json.loads((pytester.path / "imported.json").read_text())

    assert schema_of(shop.run(passed=2)) == [("", "x", "built")]
    assert shop.facts()["extra"] == ["m"]  # the module MIGRATION_MODULES names, not shopapp/migrations
    assert imported() == ["shop_migrations.0001_initial"]
    assert schema_of(shop.run(passed=2)) == [("", "x", "cached")]
    assert imported() == []
    shop.migration(columns="unused integer")  # shopapp/migrations: not the app's migrations here
    assert schema_of(shop.run(passed=2)) == [("", "x", "cached")]
    migration("m integer, n integer")
    assert schema_of(shop.run(passed=2)) == [("", "x", "built")]
    assert shop.facts()["extra"] == ["m", "n"]


SHARED = """
import os
import pytest

from billing.models import Invoice
from shopapp.models import Order


@pytest.mark.uses_db("x", "p")
@pytest.mark.parametrize("n", range(6))
def test_schema(n):
    assert Order.objects.count() == Invoice.objects.count() == 0
    Order.objects.create(code=str(n))
    Invoice.objects.create(total=n)
    assert (Order.objects.db, Invoice.objects.db) == ("x", "p")
    open(f"ran_{os.environ['PYTEST_XDIST_WORKER']}_{n}", "w").close()
"""


@pytest.mark.servers
def test_xdist_workers_share_one_build_under_the_lock(pytester, monkeypatch, servers):
    shop = Shop(pytester, monkeypatch)
    billing = pytester.path / "billing"  # an app without migrations: the schema builder makes its table
    billing.mkdir()
    (billing / "__init__.py").write_text("")
    (billing / "models.py").write_text(
        "from django.db import models\n\n\nclass Invoice(models.Model):\n    total = models.IntegerField()\n")
    name = f"multidb_share_{uuid.uuid4().hex[:8]}"  # this test's own template on the shared server
    shop.settings(apps=("billing",), extra={"p": {
        "ENGINE": "django.db.backends.postgresql", "NAME": name, "HOST": PG["host"], "PORT": str(PG["port"]),
        "USER": PG["user"], "MODELS": ["billing"]}})
    pytester.makepyfile(test_facts=SHARED)
    monkeypatch.setenv("SHOP_SLOW", "0.5")  # each build (post_migrate) takes half a second: workers meet at the lock
    try:
        result = shop.run("-p", "xdist", "-n", "3", passed=6)
        workers = {path.name.split("_")[1] for path in pytester.path.glob("ran_*")}
        assert workers == {"gw0", "gw1", "gw2"}, workers  # every worker ran tests, so provisioned both aliases
        lines = schema_of(result)
        assert sorted(worker for worker, _, _ in lines) == sorted(["gw0", "gw1", "gw2"] * 2), result.stdout.str()
        for alias in ("x", "p"):
            sources = sorted(source for _, a, source in lines if a == alias)
            assert sources == ["built", "cached", "cached"], (alias, lines)  # one build; the others restored it
    finally:
        templates = servers.pg(f"SELECT datname FROM pg_database WHERE datname LIKE 'multidb_tpl_{name}_%'")
        for (template,) in templates:
            servers.pg(f'DROP DATABASE "{template}"')
    assert len(templates) == 1, templates
    assert not [db for db in servers.databases() if name in db]  # every worker's test database was dropped


LAMBDA_MODELS = """
from django.db import models


class Order(models.Model):
    code = models.CharField(max_length=20, default=lambda: "new")
    tags = models.JSONField(default=lambda: {"kept": [1, 2]})
"""
LAMBDA_TEST = """
import pytest
from shopapp.models import Order


@pytest.mark.uses_db("x")
def test_lambda_default():
    assert Order.objects.create().code == "new"
"""


def test_a_model_whose_default_no_migration_can_hold_is_cached(pytester, monkeypatch):
    """A lambda default (a model without migrations: ``makemigrations`` refuses it, Django's runner builds it)
    is part of the cache key by its name: the schema is built, then restored from the cache."""
    shop = Shop(pytester, monkeypatch)
    (pytester.path / "shopapp" / "models.py").write_text(LAMBDA_MODELS)
    pytester.makepyfile(test_facts=LAMBDA_TEST)
    assert schema_of(shop.run("--multidb-no-migrations")) == [("", "x", "built")]
    assert schema_of(shop.run("--multidb-no-migrations")) == [("", "x", "cached")]


RENAMED_MODELS = """
from django.db import models


class Order(models.Model):
    {field} = models.CharField(max_length=20, default="")
    {m2m} = models.ManyToManyField("self", symmetrical=False)
"""
RENAMED_TEST = """
import pytest
from shopapp.models import Order


@pytest.mark.uses_db("x")
def test_renamed():
    order = Order.objects.create({field}="a")
    order.{m2m}.add(order)
    assert Order.objects.filter({field}="a", {m2m}=order).count() == 1
"""


@pytest.mark.parametrize("migrations", [False, True], ids=["app-without-migrations", "no-migrations-option"])
def test_a_renamed_field_or_many_to_many_builds_afresh(pytester, monkeypatch, migrations):
    """A field renamed in the model, and nothing else: its column (a many-to-many field's table) is new, and the
    schema is built afresh, not restored with the old one (the migration serializer leaves the name out). An app
    without migrations, and one whose migrations ``--multidb-no-migrations`` leaves out."""
    shop = Shop(pytester, monkeypatch)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # rewritten files within a second: no stale .pyc
    args = ("--multidb-no-migrations",) if migrations else ()
    if not migrations:
        for path in (pytester.path / "shopapp" / "migrations").iterdir():
            path.unlink()
        (pytester.path / "shopapp" / "migrations").rmdir()
    for field, m2m, schema in [("code", "tags", "built"), ("code", "tags", "cached"), ("label", "tags", "built"),
                               ("label", "labels", "built"), ("label", "labels", "cached")]:
        (pytester.path / "shopapp" / "models.py").write_text(RENAMED_MODELS.format(field=field, m2m=m2m))
        pytester.makepyfile(test_facts=RENAMED_TEST.format(field=field, m2m=m2m))
        assert schema_of(shop.run(*args)) == [("", "x", schema)], (field, m2m)
