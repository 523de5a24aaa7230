"""``manage.py multidb_migrate`` as users run it: fresh sqlite, PostgreSQL and MariaDB databases, real processes.

The project is ``tests/migrate_settings.py``: ``default`` and ``a`` (artists, with migrations) on sqlite, ``pg``
(widgets, without migrations; exhibits point at ``a``'s artists) and ``maria`` (the cycles app, a foreign-key
cycle, without migrations; depends on ``pg``). Each test makes the four databases and drops them afterwards.
"""

import os
import re
import sqlite3
import subprocess
import sys
import uuid

import pytest

from tests.support.projects import ROOT
from tests.support.servers import MARIA, PG, maria_query, needs_maria, needs_pg, pg_query

pytestmark = [pytest.mark.servers, needs_pg, needs_maria]

ORDER = ["default", "a", "pg", "maria"]
MIGRATIONS = ["artists.0001_initial", "contenttypes.0001_initial", "contenttypes.0002_remove_content_type_name"]
WIDGET_TABLES = {"widgets_widget", "widgets_exhibit", "django_migrations"}
CYCLE_TABLES = {"cycles_author", "cycles_book", "cycles_category", "cycles_book_categories", "django_migrations"}


class Project:
    """The four databases of one test and ways to run the command on them."""

    def __init__(self, directory):
        self.dir = directory
        self.name = f"multidb_migrate_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.env = {**os.environ, "MULTIDB_MIGRATE_DIR": str(directory), "MULTIDB_MIGRATE_NAME": self.name,
                    "DJANGO_SETTINGS_MODULE": "tests.migrate_settings", "PYTHONPATH": str(ROOT)}

    def manage(self, *args, **env):
        """``python -m django multidb_migrate ARGS --settings=tests.migrate_settings``, as a user runs it."""
        return subprocess.run(
            [sys.executable, "-m", "django", "multidb_migrate", *args, "--settings=tests.migrate_settings"],
            cwd=ROOT, env={**self.env, **env}, capture_output=True, text=True, timeout=300,
        )

    def call_command(self, *args, **env):
        """``call_command("multidb_migrate", *args)`` in a fresh process (``tests/commands/call.py``)."""
        return subprocess.run([sys.executable, "-m", "tests.commands.call", *args], cwd=ROOT,
                              env={**self.env, **env}, capture_output=True, text=True, timeout=300)

    def sqlite_tables(self, alias):
        path = self.dir / f"{alias}.db"
        if not path.exists():
            return set()
        with sqlite3.connect(path) as conn:
            return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                    if not name.startswith("sqlite_")}

    def pg_tables(self):
        return {name for (name,) in pg_query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                                             dbname=self.name)}

    def maria_tables(self):
        return {name for (name,) in maria_query("SHOW TABLES", db=self.name)}

    def applied(self, alias):
        """``app.name`` of the migrations recorded on ``alias``."""
        sql = "SELECT app, name FROM django_migrations ORDER BY id"
        if alias in ("default", "a"):
            with sqlite3.connect(self.dir / f"{alias}.db") as conn:
                rows = conn.execute(sql).fetchall()
        else:
            rows = pg_query(sql, dbname=self.name) if alias == "pg" else maria_query(sql, db=self.name)
        return [f"{app}.{name}" for app, name in rows]


@pytest.fixture
def project(tmp_path):
    made = Project(tmp_path)
    pg_query(f'CREATE DATABASE "{made.name}"')
    try:
        maria_query(f"CREATE DATABASE `{made.name}` CHARACTER SET utf8mb4")
        yield made
    finally:
        pg_query(f'DROP DATABASE IF EXISTS "{made.name}"')
        maria_query(f"DROP DATABASE IF EXISTS `{made.name}`")


def lines(text):
    return text.splitlines()


def where(project, alias):
    if alias in ("default", "a"):
        return f"sqlite {project.dir}/{alias}.db"
    server = PG if alias == "pg" else MARIA
    vendor = "postgresql" if alias == "pg" else "mysql"
    return f"{vendor} {project.name}@{server['host']}:{server['port']}"


@pytest.mark.parametrize("run", ["manage", "call_command"])
def test_every_alias_is_migrated_in_dependency_order_with_one_line_each(project, run):
    result = getattr(project, run)()
    assert (result.returncode, result.stderr) == (0, "")
    # Migrations are recorded on every alias (routers decide where their operations run), as Django's migrate does.
    assert lines(result.stdout) == [
        f"default: 3 migrations applied, 2 tables created ({where(project, 'default')})",
        f"a: 3 migrations applied, 2 tables created ({where(project, 'a')})",
        f"pg: 3 migrations applied, 3 tables created ({where(project, 'pg')})",
        f"maria: 3 migrations applied, 5 tables created ({where(project, 'maria')})",
    ]
    assert project.sqlite_tables("default") == {"django_migrations", "django_content_type"}
    assert project.sqlite_tables("a") == {"django_migrations", "artists_artist"}
    assert project.pg_tables() == WIDGET_TABLES
    assert project.maria_tables() == CYCLE_TABLES
    assert project.applied("pg") == project.applied("maria") == MIGRATIONS
    # The cycle has every constraint; the exhibits' reference into alias a has none (another database).
    maria_fks = maria_query(
        "SELECT table_name, column_name, referenced_table_name FROM information_schema.key_column_usage "
        f"WHERE table_schema = '{project.name}' AND referenced_table_name IS NOT NULL ORDER BY 1, 2", db=project.name)
    assert maria_fks == [
        ("cycles_author", "favourite_book_id", "cycles_book"),
        ("cycles_book", "author_id", "cycles_author"),
        ("cycles_book_categories", "book_id", "cycles_book"),
        ("cycles_book_categories", "category_id", "cycles_category"),
        ("cycles_category", "parent_id", "cycles_category"),
    ]
    pg_fks = pg_query("SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
                      "WHERE contype = 'f' ORDER BY 1", dbname=project.name)
    assert pg_fks == [("widgets_exhibit", "widgets_widget")]
    # post_migrate ran once every table existed: the content types of every model are on default.
    with sqlite3.connect(project.dir / "default.db") as conn:
        types = {row for row in conn.execute("SELECT app_label, model FROM django_content_type")}
    assert {("artists", "artist"), ("widgets", "exhibit"), ("cycles", "book")} <= types

    again = getattr(project, run)()
    assert (again.returncode, again.stderr) == (0, "")
    assert lines(again.stdout) == [
        f"{alias}: 0 migrations applied, 0 tables created ({where(project, alias)})" for alias in ORDER
    ]


def test_named_aliases_only_and_the_plan_changes_nothing(project):
    plan = project.manage("maria", "pg", "--plan")
    assert (plan.returncode, plan.stderr) == (0, "")
    migrations = ", ".join(MIGRATIONS)
    assert lines(plan.stdout) == [
        f"pg: would apply 3 migrations ({migrations}) and create 2 tables with the schema builder "
        f"(widgets_widget, widgets_exhibit) ({where(project, 'pg')})",
        f"maria: would apply 3 migrations ({migrations}) and create 4 tables with the schema builder "
        f"(cycles_author, cycles_book, cycles_book_categories, cycles_category) ({where(project, 'maria')})",
    ]
    assert project.pg_tables() == project.maria_tables() == set()

    result = project.manage("maria", "pg")
    assert result.returncode == 0
    assert [line.split(":")[0] for line in lines(result.stdout)] == ["pg", "maria"]
    assert project.pg_tables() == WIDGET_TABLES
    assert project.maria_tables() == CYCLE_TABLES
    assert project.sqlite_tables("default") == project.sqlite_tables("a") == set()
    assert lines(project.manage("pg", "--plan").stdout) == [f"pg: up to date ({where(project, 'pg')})"]


def stopped_at(project, alias, error, done, left):
    return (f"CommandError: multidb_migrate stopped at alias {alias!r} ({where(project, alias)}): {error}. "
            f"Migrated before it: {done}; not attempted: {left}. Fix {alias!r} (its DATABASES entry, its server or "
            "the failing migration; --traceback shows where it failed) and run multidb_migrate again.")


@pytest.mark.parametrize("run", ["manage", "call_command"])
def test_an_unreachable_alias_stops_the_run_with_one_line_naming_it(project, run):
    result = getattr(project, run)(MULTIDB_MIGRATE_UNREACHABLE="pg")
    assert result.returncode == (1 if run == "manage" else 3)
    assert [line.split(":")[0] for line in lines(result.stdout)] == ["default", "a"]
    [line] = lines(result.stderr)
    assert "Traceback" not in result.stderr
    where_pg = re.escape(f"(postgresql {project.name}@{PG['host']}:9)")
    assert re.fullmatch(
        rf"CommandError: multidb_migrate stopped at alias 'pg' {where_pg}: OperationalError: "
        r"connection failed: .*Connection refused.*\. Migrated before it: default, a; not attempted: maria\. "
        r"Fix 'pg' \(its DATABASES entry, its server or the failing migration; --traceback shows where it "
        r"failed\) and run multidb_migrate again\.", line)
    assert project.sqlite_tables("a") == {"django_migrations", "artists_artist"}
    assert project.maria_tables() == set()  # nothing after the failing alias

    plan = getattr(project, run)("--plan", MULTIDB_MIGRATE_UNREACHABLE="pg")
    assert [line.split(":")[0] for line in lines(plan.stdout)] == ["default", "a"]
    [line] = lines(plan.stderr)
    assert re.fullmatch(
        rf"CommandError: multidb_migrate --plan cannot read alias 'pg' {where_pg}: OperationalError: "
        r"connection failed: .*Connection refused.*\. Fix 'pg' \(its DATABASES entry or its server\) and run it "
        r"again\.", line)


def test_a_failing_migration_stops_the_run_at_its_alias(project):
    with sqlite3.connect(project.dir / "a.db") as conn:  # artists.0001_initial will find its table taken
        conn.execute("CREATE TABLE artists_artist (id integer)")
    result = project.manage()
    assert result.returncode == 1
    assert lines(result.stdout) == [f"default: 3 migrations applied, 2 tables created ({where(project, 'default')})"]
    taken = 'OperationalError: table "artists_artist" already exists'
    assert lines(result.stderr) == [stopped_at(project, "a", taken, "default", "pg, maria")]
    assert project.pg_tables() == project.maria_tables() == set()

    shown = project.manage("--traceback")
    assert "Traceback" in shown.stderr and "already exists" in shown.stderr


def test_bad_arguments_and_settings_are_one_line(project):
    unknown = project.manage("nope")
    assert unknown.returncode == 1
    assert lines(unknown.stderr) == [
        "CommandError: The database alias 'nope' is not configured. Known aliases: a, default, maria, pg. "
        "Add it to DATABASES or OTHER_DATABASES."
    ]
    assert project.sqlite_tables("default") == set()

    cycle = project.manage(MULTIDB_MIGRATE_CYCLE="1")
    assert cycle.returncode == 1
    assert lines(cycle.stderr) == [
        "CommandError: OTHER_DATABASES['maria']['TEST']['DEPENDENCIES'] (alias 'maria'): circular dependency between "
        "'maria', 'pg'. Fix: remove one of the DEPENDENCIES that point back."
    ]
    assert project.sqlite_tables("default") == set()


def test_the_command_imports_nothing_of_the_plugin():
    code = ("import sys, django; django.setup(); import pytest_multidb.management.commands.multidb_migrate; "
            "print(sorted(m for m in sys.modules if m in ('pytest', 'pytest_multidb.session', 'pytest_multidb.run', "
            "'pytest_multidb.plugin', 'pytest_multidb.provision')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                               "DJANGO_SETTINGS_MODULE": "tests.migrate_settings"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
