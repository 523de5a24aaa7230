"""Warm test databases (``pytest_multidb/warm.py``): kept between runs, on sqlite, PostgreSQL and MariaDB at once.

Reused when the schema is unchanged, rebuilt on a model or migration change and on ``--multidb-rebuild``, never
shared by two live runs, dropped (not reused) after a ``kill -9`` or when a session leaves them changed, removed
by ``--multidb-clean``. Each test's project has databases of its own name, and drops whatever is left of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.projects import ROOT, copy_project

pytestmark = pytest.mark.servers

SETTINGS = """
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "shopapp"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "real_default.db"}}
OTHER_DATABASES = {
    "pg": {"ENGINE": "postgresql", "NAME": "PROJECT", "HOST": "127.0.0.1", "USER": "postgres",
           "MODELS": ["shopapp.Order"]},
    "maria": {"ENGINE": "mysql", "NAME": "PROJECT", "HOST": "127.0.0.1", "USER": "root",
              "MODELS": ["shopapp.Invoice"]},
}
"""
TESTS = """
import json, os
import pytest
from django.db import connections
from shopapp.models import Invoice, Note, Order

ALIASES = ("default", "pg", "maria")


def write_and_record():
    assert (Note.objects.count(), Order.objects.count(), Invoice.objects.count()) == (0, 0, 0)
    Note.objects.create(text="n")
    Order.objects.create(code="o")
    Invoice.objects.create()
    with open(os.environ["NAMES_FILE"], "w") as out:
        json.dump({alias: connections[alias].settings_dict["NAME"] for alias in ALIASES}, out)


@pytest.mark.uses_db(*ALIASES)
def test_rolled_back():
    write_and_record()


@pytest.mark.uses_db(*ALIASES, transaction=True)
def test_committed():
    write_and_record()
"""
HANGING = """
import os, time
import pytest
from test_shop import ALIASES, write_and_record


@pytest.mark.uses_db(*ALIASES, transaction=True)
def test_hangs():
    write_and_record()
    open(os.environ["READY_FILE"], "w").close()
    while not os.path.exists(os.environ["RELEASE_FILE"]):
        time.sleep(0.05)
"""
CHANGING = """
import pytest
from django.db import connections
from test_shop import ALIASES


@pytest.mark.uses_db(*ALIASES, transaction=True)
def test_adds_a_table():
    for alias in ALIASES:
        with connections[alias].cursor() as cursor:
            cursor.execute("CREATE TABLE left_behind (x INTEGER)")
"""
BASELINE = """
import json, os
import pytest
from test_shop import ALIASES


@pytest.mark.uses_db(*ALIASES)
def test_baseline(multidb):
    with open(os.environ["BASELINE_FILE"], "w") as out:
        json.dump({alias: multidb[alias].get("baseline", "taken") for alias in ALIASES}, out)
"""

IDS = """
import json, os
import pytest
from shopapp.models import Invoice, Note, Order
from test_shop import ALIASES


@pytest.mark.uses_db(*ALIASES)
def test_first_ids():
    made = {"default": Note.objects.create(text="n"), "pg": Order.objects.create(code="o"),
            "maria": Invoice.objects.create()}
    with open(os.environ["IDS_FILE"], "w") as out:
        json.dump({alias: obj.pk for alias, obj in made.items()}, out)
"""

MIGRATED = """
import json, os
import pytest
from django.db import connections
from test_shop import ALIASES


@pytest.mark.uses_db(*ALIASES)
def test_migrations_recorded():
    found = {}
    for alias in ALIASES:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT id, app, name FROM django_migrations ORDER BY id")
            found[alias] = cursor.fetchall()
    with open(os.environ["IDS_FILE"], "w") as out:
        json.dump(found, out)
"""


MIGRATION = """
from django.db import migrations, models


def fields(*extra):
    return [("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")), *extra]


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(name="Note", fields=fields(("text", models.CharField(max_length=20)))),
        migrations.CreateModel(name="Order", fields=fields(("code", models.CharField(max_length=20)))),
        migrations.CreateModel(name="Invoice", fields=fields(("total", models.IntegerField(default=0)))),
    ]
"""


class Project:
    """The shop project in ``pytester``'s directory, its real databases named ``mdbw_<random>``."""

    def __init__(self, pytester: pytest.Pytester, servers) -> None:
        self.pytester, self.servers = pytester, servers
        self.name = f"mdbw_{uuid.uuid4().hex[:8]}"  # whole in every name made from it (16 characters of it are kept)
        pytester.makepyfile(inner_settings=SETTINGS.replace('"PROJECT"', f'"{self.name}"'), test_shop=TESTS)
        copy_project(pytester.path, "shopapp")
        self.names_file = pytester.path / "names.json"
        self.env = {**os.environ, "PYTHONPATH": f"{pytester.path}{os.pathsep}{ROOT}", "MULTIDB_WARM": "1",
                    "MULTIDB_REGISTRY": str(pytester.path / "registry"), "NAMES_FILE": str(self.names_file)}
        for variable in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
            self.env.pop(variable, None)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:randomly",
                "--multidb-settings", "inner_settings", *args]

    def run(self, *args: str, passed: int | None = 2) -> subprocess.CompletedProcess:
        """A run of ``args`` (default: test_shop.py); asserts how many tests passed."""
        done = subprocess.run(self.command(*(args or ("test_shop.py",))), cwd=self.pytester.path, env=self.env,
                              capture_output=True, text=True, timeout=180)
        if passed is not None:
            assert f"{passed} passed" in done.stdout and "failed" not in done.stdout, done.stdout + done.stderr
        return done

    def start(self, label: str) -> tuple[subprocess.Popen, Path]:
        """A run of the hanging test, once it committed its rows; returns it and the file that releases it."""
        self.pytester.makepyfile(test_hanging=HANGING)
        ready, release = self.pytester.path / f"{label}.ready", self.pytester.path / f"{label}.release"
        process = subprocess.Popen(
            self.command("test_hanging.py"), cwd=self.pytester.path, text=True,
            env={**self.env, "READY_FILE": str(ready), "RELEASE_FILE": str(release),
                 "NAMES_FILE": str(self.pytester.path / f"{label}.names.json")},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the hanging run never reached its test"
            time.sleep(0.05)
        return process, release

    def names(self, label: str = "") -> dict[str, str]:
        """The test database each alias used in the last run (``label``: of that started run)."""
        path = self.pytester.path / f"{label}.names.json" if label else self.names_file
        return json.loads(path.read_text())

    @staticmethod
    def sources(done: subprocess.CompletedProcess) -> dict[str, str]:
        """alias -> where its schema came from: ``warm``, ``cached`` or ``built`` (the report's summary lines)."""
        found = {}
        for line in done.stdout.splitlines():
            if line.startswith("multidb: ") and "schema" in line and line.rstrip().endswith(")"):
                found[line.split(":")[1].strip()] = line.rsplit(", ", 1)[1].rstrip(")")
        return found

    def stamp(self, alias: str, name: str) -> str | None:
        """The warm database's stamp on its server (``"file"`` for a kept sqlite file), ``None`` if it is gone."""
        if alias == "default":
            path = Path(name)
            return "file" if path.exists() and not path.with_suffix(".claimed").exists() else None
        if alias == "pg":
            rows = self.servers.pg(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                   f"WHERE datname = '{name}'")
        else:
            rows = self.servers.maria(f"SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA "
                                      f"WHERE SCHEMA_NAME = '{name}'")
        return rows[0][0] if rows else None

    def assert_warm(self, names: dict[str, str]) -> None:
        for alias, name in names.items():
            stamp = self.stamp(alias, name)
            assert stamp == "file" or (stamp or "").startswith("pytest-multidb warm "), (alias, name, stamp)

    def assert_gone(self, names: dict[str, str]) -> None:
        for alias, name in names.items():
            assert self.stamp(alias, name) is None and not Path(name).exists(), (alias, name)

    def drop_everything(self) -> None:
        """What is left of this project's databases on the servers (whatever a failing test left): its test
        databases, warm ones and templates all carry its configured name."""
        for (name,) in self.servers.pg(f"SELECT datname FROM pg_database WHERE datname LIKE '%{self.name}%'"):
            self.servers.pg(f'DROP DATABASE "{name}" WITH (FORCE)')
        for (name,) in self.servers.maria(f"SHOW DATABASES LIKE '%{self.name}%'"):
            self.servers.maria(f"DROP DATABASE `{name}`")


@pytest.fixture
def project(pytester: pytest.Pytester, servers):
    made = Project(pytester, servers)
    yield made
    made.drop_everything()


def test_reused_while_the_schema_is_unchanged_rebuilt_on_a_change_and_removed_by_clean(project):
    first = project.run()
    assert project.sources(first) == {"default": "built", "pg": "built", "maria": "built"}
    names = project.names()
    project.assert_warm(names)

    # Unchanged: the same databases, not made again, and nothing of the last run's rows (committed or not).
    again = project.run()
    assert project.sources(again) == {"default": "warm", "pg": "warm", "maria": "warm"}
    assert project.names() == names
    project.assert_warm(names)

    # A new column on every model: new databases with the new schema; the old schema's are dropped.
    models = project.pytester.path / "shopapp" / "models.py"
    extra = "(models.Model):\n    extra = models.IntegerField(default=3)"
    models.write_text(models.read_text().replace("(models.Model):", extra))
    changed = project.run()
    assert project.sources(changed) == {"default": "built", "pg": "built", "maria": "built"}
    new_names = project.names()
    assert all(new_names[alias] != names[alias] for alias in names), (names, new_names)
    project.assert_gone(names)
    project.assert_warm(new_names)

    # --multidb-rebuild: built again, in the same places.
    rebuilt = project.run("--multidb-rebuild", "test_shop.py")
    assert project.sources(rebuilt) == {"default": "built", "pg": "built", "maria": "built"}
    assert project.names() == new_names
    project.assert_warm(new_names)

    # A dry run lists what the clean removes, even where the settings of the run name no server any more.
    project.pytester.makepyfile(sqlite_only_settings=SETTINGS.split("OTHER_DATABASES")[0])
    listed = project.run("--multidb-settings", "sqlite_only_settings", "--multidb-clean", "--dry-run", passed=None)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"multidb: would remove warm test database {new_names['default']!r}" in listed.stdout, listed.stdout
    for alias, vendor in (("pg", "postgresql"), ("maria", "mysql")):
        line = f"multidb: would remove warm test database {new_names[alias]!r} of alias {alias!r} ({vendor} 127.0.0.1)"
        assert line in listed.stdout, listed.stdout
    project.assert_warm(new_names)

    cleaned = project.run("--multidb-clean", passed=None)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    for name in new_names.values():
        assert f"multidb: removed warm test database {name!r}" in cleaned.stdout, cleaned.stdout
    project.assert_gone(new_names)
    assert not list(project.pytester.path.glob(".pytest_cache/**/warm/*.baseline"))  # they went with them
    # --multidb-clean removed this project's PostgreSQL template too; the local schema cache files stay.
    assert project.sources(project.run()) == {"default": "cached", "pg": "built", "maria": "cached"}


def test_a_live_run_never_shares_its_warm_databases(project):
    project.run()
    warm = project.names()
    holder, release = project.start("holder")  # claims the warm databases, and keeps them while it hangs
    try:
        beside = project.run()
        assert project.sources(beside) == {"default": "cached", "pg": "cached", "maria": "cached"}, beside.stdout
        assert project.names("holder") == warm
        assert all(project.names()[alias] != warm[alias] for alias in warm), (warm, project.names())
    finally:
        release.touch()
        holder.wait(timeout=60)
    assert holder.returncode == 0, holder.stdout.read()
    project.assert_warm(warm)
    project.assert_warm(project.names())
    # Both are warm now, and a run takes the first free one.
    assert project.sources(project.run()) == {"default": "warm", "pg": "warm", "maria": "warm"}
    assert project.names() == warm


def test_a_killed_run_s_warm_databases_are_dropped_not_reused(project):
    project.run()
    warm = project.names()
    killed, _ = project.start("killed")  # has committed a row on every alias
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    after = project.run()  # its tests assert that they start with no rows
    sources = project.sources(after)
    assert sources == {"default": "cached", "pg": "cached", "maria": "cached"}, after.stdout
    for alias in ("pg", "maria"):
        assert f"multidb: removed leftover database {warm[alias]!r}" in after.stdout, after.stdout
    assert project.names() == warm  # made again in the same place
    project.assert_warm(warm)


def test_a_database_left_changed_is_not_kept_warm(project):
    project.pytester.makepyfile(test_changing=CHANGING)
    project.run()
    warm = project.names()
    changing = project.run("test_changing.py", passed=1)
    for alias in ("default", "pg", "maria"):
        assert (f"multidb: the test database of {alias!r} is not kept warm: tables were added or dropped since "
                "its schema was installed (left_behind)") in changing.stdout, changing.stdout
    project.assert_gone(warm)
    assert project.sources(project.run()) == {"default": "cached", "pg": "cached", "maria": "cached"}
    project.assert_warm(project.names())


def test_rebuilt_when_a_migration_file_changes(project):
    migrations = project.pytester.path / "shopapp" / "migrations"
    migrations.mkdir()
    (migrations / "__init__.py").write_text("")
    (migrations / "0001_initial.py").write_text(MIGRATION)
    project.run()
    names = project.names()
    assert project.sources(project.run()) == {"default": "warm", "pg": "warm", "maria": "warm"}

    # The same models, one more byte in the migration: the schema's fingerprint reads the file.
    migration = migrations / "0001_initial.py"
    migration.write_text(migration.read_text() + "\n# reviewed\n")
    changed = project.run()
    assert project.sources(changed) == {"default": "built", "pg": "built", "maria": "built"}
    assert all(project.names()[alias] != names[alias] for alias in names), (names, project.names())
    project.assert_gone(names)
    project.assert_warm(project.names())


def test_a_kept_database_s_baseline_is_read_again_not_taken(project):
    """The rows and tables a warm database was kept with are written beside it; the next session that claims it
    reads them instead of taking its baseline again (a file that cannot be read: taken again, as before)."""
    project.pytester.makepyfile(test_baseline=BASELINE)
    baselines = project.pytester.path / "baselines.json"
    project.env["BASELINE_FILE"] = str(baselines)

    project.run("test_shop.py", "test_baseline.py", passed=3)
    assert json.loads(baselines.read_text()) == {"default": "taken", "pg": "taken", "maria": "taken"}
    kept = sorted(project.pytester.path.glob(".pytest_cache/**/warm/*.baseline"))
    assert len(kept) == 3, kept

    again = project.run("test_shop.py", "test_baseline.py", passed=3)
    assert project.sources(again) == {"default": "warm", "pg": "warm", "maria": "warm"}
    assert json.loads(baselines.read_text()) == {"default": "kept", "pg": "kept", "maria": "kept"}

    for path in kept:
        path.write_bytes(b"not a pickle")
    unreadable = project.run("test_shop.py", "test_baseline.py", passed=3)
    assert project.sources(unreadable) == {"default": "warm", "pg": "warm", "maria": "warm"}
    assert json.loads(baselines.read_text()) == {"default": "taken", "pg": "taken", "maria": "taken"}
    assert json.loads(project.run("test_baseline.py", passed=1) and baselines.read_text()) == {
        "default": "kept", "pg": "kept", "maria": "kept"}  # written again at the end of the session before


def test_a_warm_database_s_ids_start_where_a_new_one_s_do(project):
    """A rolled-back insert moves PostgreSQL's sequence and MariaDB's AUTO_INCREMENT on, and a committing test's
    emptied rows leave sqlite's ``sqlite_sequence`` moved on: a new database (Django's runner, pytest-django) starts
    every run where the install left them, and so does a warm one."""
    project.pytester.makepyfile(test_ids=IDS)
    ids = project.pytester.path / "ids.json"
    project.env["IDS_FILE"] = str(ids)
    project.run("test_ids.py", "test_shop.py", passed=3)
    first = json.loads(ids.read_text())
    assert first == {"default": 1, "pg": 1, "maria": 1}
    for _ in range(2):
        again = project.run("test_ids.py", "test_shop.py", passed=3)
        assert project.sources(again) == {"default": "warm", "pg": "warm", "maria": "warm"}
        assert json.loads(ids.read_text()) == first


def test_a_cached_schema_records_its_migrations_as_migrate_did(project):
    """Made from the schema cache (no warm databases), each alias's ``django_migrations`` rows are the ones
    ``migrate`` wrote, ids included (MariaDB's cache replays the tables' DDL, whose AUTO_INCREMENT is past them)."""
    migrations = project.pytester.path / "shopapp" / "migrations"
    migrations.mkdir()
    (migrations / "__init__.py").write_text("")
    (migrations / "0001_initial.py").write_text(MIGRATION)
    project.pytester.makepyfile(test_migrated=MIGRATED, test_ids=IDS)
    ids = project.pytester.path / "ids.json"
    project.env.update(IDS_FILE=str(ids), MULTIDB_WARM="0")
    built = project.run("test_migrated.py", passed=1)
    assert project.sources(built) == {"default": "built", "pg": "built", "maria": "built"}
    migrated = json.loads(ids.read_text())
    assert all(rows and rows[0][0] == 1 for rows in migrated.values()), migrated
    cached = project.run("test_migrated.py", passed=1)
    assert project.sources(cached) == {"default": "cached", "pg": "cached", "maria": "cached"}
    assert json.loads(ids.read_text()) == migrated
    project.run("test_ids.py", passed=1)
    assert json.loads(ids.read_text()) == {"default": 1, "pg": 1, "maria": 1}
