"""The benchmark's realistic Django project, generated deterministically, and its test suites.

Four apps of 16 models each (64 models, plus Django's auth, contenttypes and sessions on ``default``), every
model with an index and most with a foreign key, every fourth with a many-to-many; migrations made once with
``makemigrations``. Aliases: ``default`` and ``archive`` on sqlite files, ``pg`` on PostgreSQL, ``maria`` on
MariaDB; a ``DATABASE_ROUTERS`` router puts each app on its alias (both tools read the same settings).

Each tool gets its own copy of the project with the same layout (``suites/`` holds that tool's flavour of
every suite): ``multidb`` (``uses_db`` markers), ``django`` (``django_db(databases=...)`` markers) and
``floor`` (``uses_db`` markers, served by a ten-line conftest on databases made beforehand).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ALIASES = {"catalog": "default", "ledger": "archive", "orders": "pg", "events": "maria"}
MODEL_NAMES = {
    "catalog": ["Category", "Product", "Variant", "Brand", "Supplier", "PriceList", "Price", "Image",
                "Attribute", "AttributeValue", "Collection", "Review", "Tag", "Bundle", "Warehouse", "Stock"],
    "ledger": ["Account", "Journal", "Entry", "Line", "Period", "Currency", "Rate", "Budget",
               "CostCenter", "Invoice", "InvoiceLine", "Payment", "Refund", "TaxCode", "Statement", "Audit"],
    "orders": ["Customer", "Order", "OrderLine", "Address", "Cart", "CartItem", "Shipment", "Parcel",
               "Carrier", "Coupon", "Discount", "ReturnRequest", "ReturnLine", "Note", "Channel", "Fulfilment"],
    "events": ["Stream", "Event", "Subscriber", "Delivery", "Attempt", "Webhook", "Topic", "Schedule",
               "Job", "Run", "Metric", "Sample", "Alert", "Incident", "Page", "Ack"],
}
ALL_ALIASES = list(ALIASES.values())

SETTINGS = '''"""Benchmark settings: four aliases, one router; BENCH_FLOOR=1 points them at the floor's databases."""
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
PREFIX = os.environ.get("BENCH_DB_PREFIX", "bench")
FLOOR = os.environ.get("BENCH_FLOOR") == "1"
NAME = "floor_{}" if FLOOR else "{}"

SECRET_KEY = "bench"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
                  "catalog", "ledger", "orders", "events"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(HERE / NAME.format("default.sqlite3"))},
    "archive": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(HERE / NAME.format("archive.sqlite3"))},
    "pg": {"ENGINE": "django.db.backends.postgresql", "NAME": NAME.format(f"{PREFIX}_pg"),
           "HOST": "127.0.0.1", "PORT": "5432", "USER": "postgres"},
    "maria": {"ENGINE": "django.db.backends.mysql", "NAME": NAME.format(f"{PREFIX}_maria"),
              "HOST": "127.0.0.1", "PORT": "3306", "USER": "root", "OPTIONS": {"charset": "utf8mb4"}},
}
DATABASE_ROUTERS = ["bench_router.AppRouter"]
for alias in ("archive", "pg", "maria"):  # Django's runner: a suite that skips default needs this
    DATABASES[alias]["TEST"] = {"DEPENDENCIES": []}
if os.environ.get("BENCH_MAKEMIGRATIONS"):  # makemigrations needs no server (the MySQL backend connects)
    DATABASES = {"default": DATABASES["default"]}
'''

ROUTER = f'''"""Each app on its alias; Django's own apps on default."""

ALIASES = {ALIASES!r}


class AppRouter:
    def db_for_read(self, model, **hints):
        return ALIASES.get(model._meta.app_label)

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return ALIASES.get(obj1._meta.app_label) == ALIASES.get(obj2._meta.app_label) or None

    def allow_migrate(self, db, app_label, **hints):
        return db == ALIASES.get(app_label, "default")
'''

WORK = f'''"""What every benchmark test does: 4 ORM queries per app (insert, insert with FK, join count, update)."""
from django.apps import apps

FIRST_TWO = {{app: (names[0], names[1]) for app, names in {MODEL_NAMES!r}.items()}}
ALL_APPS = {list(ALIASES)!r}


def work(app_labels, n, units=1):
    """Run ``units`` x 4 queries on each app's alias (through the router)."""
    for app in app_labels:
        parent_model, child_model = (apps.get_model(app, name) for name in FIRST_TWO[app])
        for unit in range(units):
            name = f"{{n}}-{{unit}}"
            parent = parent_model.objects.create(name=name, value=n)
            child_model.objects.create(name=name, value=n, parent=parent)
            assert child_model.objects.filter(parent__name=name, parent__value=n).count() == 1
            parent_model.objects.filter(pk=parent.pk).update(value=n + 1)
'''

ADMIN = '''"""Benchmark housekeeping: ``create-floor ALIAS...`` (the floor's databases, migrated), ``drop TOKEN``."""
import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

SERVERS = ("pg", "maria")


def create_floor(aliases):
    for alias in set(SERVERS) & set(aliases):
        conn = connections[alias]
        with conn.creation._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {conn.ops.quote_name(conn.settings_dict['NAME'])}")
    for alias in aliases:
        call_command("migrate", database=alias, verbosity=0)


def drop(token):
    """Drop every database whose name contains this benchmark run's random token; print what was dropped."""
    for alias in SERVERS:
        conn = connections[alias]
        quote = conn.ops.quote_name
        with conn.creation._nodb_cursor() as cursor:
            if conn.vendor == "postgresql":
                cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"%{token}%"])
            else:
                cursor.execute("SHOW DATABASES LIKE %s", [f"%{token}%"])
            for (name,) in cursor.fetchall():
                force = " WITH (FORCE)" if conn.vendor == "postgresql" else ""
                cursor.execute(f"DROP DATABASE {quote(name)}{force}")
                print(f"dropped {alias} {name}")


if __name__ == "__main__":
    create_floor(sys.argv[2:]) if sys.argv[1] == "create-floor" else drop(sys.argv[2])
'''

FLOOR_CONFTEST = '''"""The physical floor of isolation: one atomic per declared alias, rolled back. No plugin."""
import django
import pytest
from django.db import transaction

django.setup()


@pytest.fixture(autouse=True)
def _rollback_each_alias(request):
    marker = request.node.get_closest_marker("uses_db") or request.node.get_closest_marker("django_db")
    aliases = (marker.args or marker.kwargs.get("databases", ["default"])) if marker else ()
    blocks = [transaction.atomic(using=alias) for alias in aliases]
    for block in blocks:
        block.__enter__()
    yield
    for alias, block in zip(reversed(aliases), reversed(blocks)):
        transaction.set_rollback(True, using=alias)
        block.__exit__(None, None, None)
'''


BOUND_CONFTEST = '''"""No isolation per test: one atomic per alias for the whole session, rolled back at its end.

Not a way to test (a test sees the rows of the ones before it): the lower bound of any per-test isolation, what the
suites' own queries cost with nothing around them. As the floor, one fixture per test reads the declaration; it
enters an alias's atomic at the first test that declares it. On the floor's databases (left as they were).
"""
import django
import pytest
from django.db import transaction

django.setup()

ENTERED = {}  # alias -> its atomic, for the whole session


@pytest.fixture(scope="session", autouse=True)
def _rolled_back_at_the_end():
    yield
    for alias, block in reversed(list(ENTERED.items())):
        transaction.set_rollback(True, using=alias)
        block.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _one_atomic_per_alias_for_the_session(request, _rolled_back_at_the_end):
    marker = request.node.get_closest_marker("uses_db") or request.node.get_closest_marker("django_db")
    aliases = (marker.args or marker.kwargs.get("databases", ["default"])) if marker else ()
    for alias in aliases:
        if alias not in ENTERED:
            ENTERED[alias] = transaction.atomic(using=alias)
            ENTERED[alias].__enter__()
'''

def _model_source(app: str) -> str:
    """models.py of one app: 16 models, indexes, FKs to the previous model, an M2M on every fourth."""
    names = MODEL_NAMES[app]
    lines = ['"""Generated benchmark models."""', "from django.db import models", ""]
    for i, name in enumerate(names):
        lines += ["", f"class {name}(models.Model):",
                  "    name = models.CharField(max_length=64, db_index=True)",
                  "    value = models.IntegerField(default=0)",
                  '    note = models.CharField(max_length=200, blank=True, default="")',
                  "    created = models.DateTimeField(auto_now_add=True)"]
        if i > 0:
            lines.append(f'    parent = models.ForeignKey("{names[i - 1]}", null=True, blank=True, '
                         'on_delete=models.CASCADE, related_name="+")')
        if i % 4 == 3:
            lines.append(f'    links = models.ManyToManyField("{names[i - 3]}", blank=True, related_name="+")')
        lines += ["", "    class Meta:",
                  f'        indexes = [models.Index(fields=["value", "created"], name="{app[:4]}_{i:02}_vc")]',
                  ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class Suite:
    """One benchmark suite: ``tests`` tests of one shape; ``baseline`` is its no-DB suite of the same size."""

    name: str
    tests: int
    aliases: tuple[str, ...] = ()  # () for a no-DB suite
    units: int = 1  # x 4 queries per app (0: the aliases declared, never queried)
    transaction: bool = False
    style: str = "marker"  # "marker" (each tool's own marker), "django_db" (the same file for all), "testcase"
    baseline: str = ""

    def apps(self) -> list[str]:
        return [app for app, alias in ALIASES.items() if alias in self.aliases]


def suites(quick: bool) -> list[Suite]:
    """The measured suites and their no-DB baselines (``--quick``: a few tests each)."""
    n, t = (20, 6) if quick else (300, 60)
    return [
        Suite("nodb", n), Suite("nodb_small", t), Suite("nodb_unittest", n, style="testcase"),
        Suite("rollback_4_aliases", n, tuple(ALL_ALIASES), baseline="nodb"),
        Suite("rollback_1_alias", n, ("pg",), units=4, baseline="nodb"),
        Suite("rollback_4_aliases_untouched", n, tuple(ALL_ALIASES), units=0, baseline="nodb"),
        Suite("transaction_4_aliases", t, tuple(ALL_ALIASES), transaction=True, baseline="nodb_small"),
        Suite("testcase_4_aliases", n, tuple(ALL_ALIASES), style="testcase", baseline="nodb_unittest"),
        Suite("django_db_4_aliases", n, tuple(ALL_ALIASES), style="django_db", baseline="nodb"),
        Suite("sqlite_rollback_1_alias", n, ("default",), units=4, baseline="nodb"),
        Suite("sqlite_rollback_2_aliases", n, ("default", "archive"), units=2, baseline="nodb"),
    ]


def _marker(flavour: str, suite: Suite) -> str:
    aliases = ", ".join(repr(alias) for alias in suite.aliases)
    if flavour == "django" or suite.style == "django_db":
        transaction = ", transaction=True" if suite.transaction else ""
        return f"@pytest.mark.django_db(databases=[{aliases}]{transaction})"
    return f"@pytest.mark.uses_db({aliases}{', transaction=True' if suite.transaction else ''})"


def suite_source(flavour: str, suite: Suite) -> str:
    """The test module of ``suite`` for one flavour (``multidb``, ``django`` or ``floor``)."""
    if suite.style == "testcase":
        per_class = 10
        base = "TestCase" if suite.aliases else "unittest.TestCase"
        databases = f"    databases = {set(suite.aliases)!r}\n" if suite.aliases else ""
        body = f"work({suite.apps()!r}, n, {suite.units})" if suite.aliases else "self.assertGreaterEqual(n, 0)"
        return (f"import unittest\n\nfrom bench_work import work\nfrom django.test import TestCase\n\n\n"
                f"class Batch({base}):\n{databases}\n"
                f"    def check(self, n):\n        {body}\n\n\n"
                f"for c in range({suite.tests // per_class}):\n"
                f"    methods = {{f'test_{{m}}': (lambda self, n=c * {per_class} + m: self.check(n))"
                f" for m in range({per_class})}}\n"
                f"    globals()[f'TestBatch{{c:02}}'] = type(f'TestBatch{{c:02}}', (Batch,), methods)\n"
                f"del Batch\n")
    if not suite.aliases:
        return (f"import pytest\n\n\n@pytest.mark.parametrize('n', range({suite.tests}))\n"
                "def test_nodb(n):\n    assert n >= 0\n")
    return (f"import pytest\nfrom bench_work import work\n\n\n{_marker(flavour, suite)}\n"
            f"@pytest.mark.parametrize('n', range({suite.tests}))\n"
            f"def test_{suite.name}(n):\n    work({suite.apps()!r}, n, {suite.units})\n")


START_DB = Suite("start_db", 1, tuple(ALL_ALIASES))
START_NODB = Suite("start_nodb", 1)
FLAVOURS = ("multidb", "django", "floor", "bound")


def generate(root: Path, quick: bool, env: dict[str, str]) -> dict[str, Path]:
    """Write the project under ``root/base``, make its migrations, copy it once per flavour; return the copies."""
    base = root / "base"
    base.mkdir(parents=True)
    (base / "bench_settings.py").write_text(SETTINGS)
    (base / "bench_router.py").write_text(ROUTER)
    (base / "bench_work.py").write_text(WORK)
    (base / "bench_admin.py").write_text(ADMIN)
    for app in ALIASES:
        (base / app / "migrations").mkdir(parents=True)
        (base / app / "__init__.py").write_text("")
        (base / app / "migrations" / "__init__.py").write_text("")
        (base / app / "models.py").write_text(_model_source(app))
    done = subprocess.run([sys.executable, "-m", "django", "makemigrations", *ALIASES, "-v", "0"], cwd=base,
                          env={**env, "PYTHONPATH": str(base), "BENCH_MAKEMIGRATIONS": "1"}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"makemigrations failed:\n{done.stderr[-3000:]}")
    copies = {}
    for flavour in FLAVOURS:
        copy = copies[flavour] = root / flavour
        shutil.copytree(base, copy)
        markers = "markers =\n    uses_db: declared databases\n    django_db: declared databases\n"
        (copy / "pytest.ini").write_text("[pytest]\n" + (markers if flavour in ("floor", "bound") else ""))
        if flavour in ("floor", "bound"):
            (copy / "conftest.py").write_text(FLOOR_CONFTEST if flavour == "floor" else BOUND_CONFTEST)
        (copy / "suites").mkdir()
        for suite in [*suites(quick), START_DB, START_NODB]:
            (copy / "suites" / f"test_{suite.name}.py").write_text(suite_source(flavour, suite))
    shutil.rmtree(base)
    return copies


def clean_env() -> dict[str, str]:
    """The environment without anything that would steer pytest or Django from outside."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("PYTEST_", "DJANGO_", "MULTIDB_")) and key != "PYTHONPATH"}


def bytecode_as_installed() -> None:
    """Compile the measured checkout's ``pytest_multidb`` into its ``__pycache__``, as ``pip install`` compiles an
    installed package. pytest-django, installed, has its bytecode; the checkout is imported from source, and where
    ``PYTHONDONTWRITEBYTECODE`` is set (this workplace sets it) every timed start would compile it again (~0.1 s)."""
    import compileall

    compileall.compile_dir(Path(__file__).resolve().parent.parent / "pytest_multidb", quiet=1)
