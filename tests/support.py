"""Shared by the plugin and fault tests (their conftests import the fixtures): every test runs an inner pytest
in a subprocess (``pytester.runpytest_subprocess``).

Django can be set up once per process, so each inner run is a fresh interpreter. The inner runs use the sample
project (``sample_models.settings``): alias ``a`` is sqlite; ``b`` is sqlite or PostgreSQL (``pg=True``); ``c`` is
sqlite or MariaDB (``maria=True``). The "real" sqlite files would live under ``<pytester path>/real``; the real
PostgreSQL / MariaDB databases are ``multidb_sample_widgets`` / ``multidb_sample_cycles``.

Inner test code imports ``inner_helpers`` (written into every inner run, see ``HELPERS``): ``SERVER`` is the alias
on the backend under test (``b`` for sqlite and PostgreSQL, ``c`` for MariaDB), ``add`` / ``count`` write and
count rows through the ORM, ``committed`` counts rows from a second connection (committed rows only).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("--multidb-settings", "sample_models.settings")
#: pytest-asyncio and anyio are in the dev venv; inner runs load them only when they say so (``-p asyncio``).
PLUGINS = ("-p", "no:django", "-p", "no:randomly", "-p", "no:asyncio", "-p", "no:anyio")

PG = {"host": os.environ.get("MULTIDB_PG_HOST", "127.0.0.1"), "port": int(os.environ.get("MULTIDB_PG_PORT", "5432")),
      "user": os.environ.get("MULTIDB_PG_USER", "postgres")}
MARIA = {"host": os.environ.get("MULTIDB_MARIA_HOST", "127.0.0.1"),
         "port": int(os.environ.get("MULTIDB_MARIA_PORT", "3306")),
         "user": os.environ.get("MULTIDB_MARIA_USER", "root")}
PG_REAL = "multidb_sample_widgets"
MARIA_REAL = "multidb_sample_cycles"

HELPERS = '''
"""Helpers for inner test runs (written by tests/plugin/conftest.py)."""
import os

from django.db import connections

from sample_models.artists.models import Artist
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget

#: The alias on the backend under test: b (sqlite or PostgreSQL) or c (MariaDB).
SERVER = os.environ.get("INNER_SERVER_ALIAS", "b")
MODELS = {"a": Artist, "b": Widget, "c": Category}


def add(alias, name):
    """One row through the ORM into the table of the model that lives on ``alias``."""
    model = MODELS[alias]
    if model is Widget:
        return Widget.objects.create(code=name, weight=1)
    return model.objects.create(name=name)


def count(alias):
    return MODELS[alias].objects.count()


def raw_count(alias, table):
    """Rows of ``table`` through the test's own connection of ``alias`` (raw SQL, no routing)."""
    conn = connections[alias]
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def committed(alias):
    """Rows of the alias's model table seen from a second, independent connection: committed rows only."""
    conn = connections.create_connection(alias)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(MODELS[alias]._meta.db_table)}")
            return cursor.fetchone()[0]
    finally:
        conn.close()


def tables(alias):
    """Tables on ``alias`` seen from a second connection."""
    conn = connections.create_connection(alias)
    try:
        with conn.cursor() as cursor:
            return set(conn.introspection.table_names(cursor))
    finally:
        conn.close()
'''


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


PG_UP = _reachable(PG["host"], PG["port"])
MARIA_UP = _reachable(MARIA["host"], MARIA["port"])
needs_pg = pytest.mark.skipif(not PG_UP, reason=f"no PostgreSQL server at {PG['host']}:{PG['port']}")
needs_maria = pytest.mark.skipif(not MARIA_UP, reason=f"no MariaDB server at {MARIA['host']}:{MARIA['port']}")


@dataclass(frozen=True)
class Backend:
    """One way to run the sample project: which server (if any) hosts ``SERVER``."""

    name: str
    pg: bool = False
    maria: bool = False

    @property
    def alias(self) -> str:
        return "c" if self.maria else "b"

    @property
    def vendor(self) -> str:
        return "postgresql" if self.pg else "mysql" if self.maria else "sqlite"


SQLITE, POSTGRES, MARIADB = Backend("sqlite"), Backend("pg", pg=True), Backend("maria", maria=True)
BACKENDS = [
    pytest.param(SQLITE, id="sqlite"),
    pytest.param(POSTGRES, id="pg", marks=[pytest.mark.servers, needs_pg]),
    pytest.param(MARIADB, id="maria", marks=[pytest.mark.servers, needs_maria]),
]


BY_NAME = {b.name: b for b in (SQLITE, POSTGRES, MARIADB)}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """sqlite, PostgreSQL and MariaDB in turn; ``parametrize("backend", ["pg"], indirect=True)`` picks some.

    A server backend is skipped when its server is not reachable.
    """
    chosen = request.param if isinstance(request.param, Backend) else BY_NAME[request.param]
    if chosen.pg and not PG_UP:
        pytest.skip(f"no PostgreSQL server at {PG['host']}:{PG['port']}")
    if chosen.maria and not MARIA_UP:
        pytest.skip(f"no MariaDB server at {MARIA['host']}:{MARIA['port']}")
    return chosen


# -- direct access to the servers (no Django in the outer process) ----------------------------------------------


def pg_query(sql: str, dbname: str = "postgres") -> list[tuple]:
    import psycopg

    with psycopg.connect(dbname=dbname, autocommit=True, **PG) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def maria_query(sql: str, db: str | None = None) -> list[tuple]:
    import MySQLdb

    conn = MySQLdb.connect(**MARIA, **({"database": db} if db else {}))
    try:
        cur = conn.cursor()
        cur.execute(sql)
        rows = list(cur.fetchall()) if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


def server_databases() -> set[str]:
    """Every database name on the reachable servers, prefixed ``pg:`` / ``maria:``."""
    names = set()
    if PG_UP:
        names |= {f"pg:{n}" for (n,) in pg_query("SELECT datname FROM pg_database")}
    if MARIA_UP:
        names |= {f"maria:{n}" for (n,) in maria_query("SHOW DATABASES")}
    return names


#: The "shop" app of the projects that tests of the schema cache and warm databases write (three models, one
#: per alias).
SHOP_MODELS = """
from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=20)


class Order(models.Model):
    code = models.CharField(max_length=20)


class Invoice(models.Model):
    total = models.IntegerField(default=0)
"""


#: The "notes" app of the Django-test-class and committing-cleanup tests: one model, a data migration writing a row.
NOTES_MODELS = """
from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=100)
"""

NOTES_MIGRATION = """
from django.db import migrations, models


def write(apps, schema_editor):
    apps.get_model("notes", "Note").objects.using(schema_editor.connection.alias).create(text="from a data migration")


class Migration(migrations.Migration):
    initial = True
    operations = [
        migrations.CreateModel("Note", [("id", models.AutoField(primary_key=True)),
                                        ("text", models.CharField(max_length=100))]),
        migrations.RunPython(write, migrations.RunPython.noop),
    ]
"""


# -- a "seeded" app: one model and a data migration ------------------------------------------------------------


def seeded_app(pytester: pytest.Pytester, seed: str) -> Path:
    """Write the app ``seeded`` (model ``Note``) whose initial migration runs ``seed`` (the body of
    ``def seed(apps, schema_editor):``, indented); returns its ``migrations`` folder."""
    app = pytester.mkpydir("seeded")
    (app / "models.py").write_text("from django.db import models\n\n\nclass Note(models.Model):\n"
                                   "    text = models.CharField(max_length=20)\n")
    migrations = pytester.mkpydir("seeded/migrations")
    (migrations / "0001_initial.py").write_text(f"""import json
from pathlib import Path

from django.db import migrations, models


def seed(apps, schema_editor):
{seed}


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Note", [("id", models.AutoField(primary_key=True)),
                                        ("text", models.CharField(max_length=20))]),
        migrations.RunPython(seed),
    ]
""")
    return migrations


# -- one line, no traceback ---------------------------------------------------------------------------------------


def assert_no_traceback(text: str) -> None:
    """No Python traceback, no pytest internal error and no chained exception in a run's output."""
    for sign in ("Traceback", "INTERNALERROR", "During handling of the above exception",
                 "The above exception was the direct cause"):
        assert sign not in text, text


def assert_one_line(run: Inner, line: str) -> None:
    """``line`` (after pytest's ``ERROR: ``) is all the run wrote to stderr, and nothing was provisioned."""
    assert [found for found in run.err.splitlines() if found.strip()] == [f"ERROR: {line}"], run.err
    assert line not in run.out
    assert "provisioning" not in run.out
    assert_no_traceback(f"{run.out}\n{run.err}")


def assert_test_failed_in_one_line(run: Inner, line: str) -> None:
    """A test failed with ``line`` as its whole report (no traceback, no chained exception) and the run went on."""
    assert_no_traceback(run.out + run.err)
    assert line in run.out, run.out


# -- inner runs --------------------------------------------------------------------------------------------------


SUMMARY_LINE = re.compile(
    r"^multidb: (?P<alias>\w+): (?P<kind>\w+) (?P<engine>[\w.]+) (?P<name>\S+) "
    r"\((?P<seconds>\d+\.\d\d)s \+ schema (?P<schema>\d+\.\d\d)s(?:, (?P<cache>[^)]+))?\)$"
)


#: Written into every inner run and loaded with ``-p inner_pidfile``: the inner process's pid, as soon as pytest
#: starts (before anything is provisioned). A plain run names its server test databases
#: ``test_<NAME>_<pid><4 hex>``, so the pid finds whatever it left.
PID_PLUGIN = """
import os

with open(os.environ["INNER_PID_FILE"], "w") as out:
    out.write(str(os.getpid()))
"""


@dataclass
class Inner:
    """The result of an inner run: its pid, and the xdist worker token it ran as (``worker=True``; part of
    every test database name it made), else ``""``."""

    result: pytest.RunResult
    token: str
    pid: int | None = None

    @property
    def out(self) -> str:
        return self.result.stdout.str()

    @property
    def err(self) -> str:
        return self.result.stderr.str()

    def summary(self) -> dict[str, dict[str, str]]:
        """The report's ``multidb`` section: alias -> kind, engine, name, seconds (one line per alias)."""
        lines = self.out.splitlines()
        start = next((i for i, line in enumerate(lines) if re.match(r"^=+ multidb =+$", line)), None)
        if start is None:
            return {}
        found: dict[str, dict[str, str]] = {}
        for line in lines[start + 1:]:
            if not line.strip() and not found:
                continue
            match = SUMMARY_LINE.match(line)
            if not match:
                break
            assert match["alias"] not in found, f"two summary lines for {match['alias']!r}:\n{self.out}"
            found[match["alias"]] = match.groupdict()
        return found

    def leftovers(self) -> set[str]:
        """Server databases this run made and did not remove (found by its worker token, or by its pid)."""
        if self.token:
            return {name for name in server_databases() if self.token in name}
        assert self.pid is not None, "the inner run never started"
        made = re.compile(rf"^(pg|maria):test_\w+_{self.pid}[0-9a-f]{{4}}$")
        return {name for name in server_databases() if made.match(name)}


class InnerRunner:
    """``inner(*args, backend=POSTGRES)``: run the files written with ``pytester`` in a fresh interpreter."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        pytester.makepyfile(inner_helpers=HELPERS, inner_pidfile=PID_PLUGIN)
        # Exists, so that anything opening the real sqlite files would create them there (and be caught).
        self.real_dir.mkdir()
        monkeypatch.setenv("PYTHONPATH", str(ROOT))
        monkeypatch.setenv("MULTIDB_SAMPLE_DIR", str(self.real_dir))
        for var in ("DJANGO_SETTINGS_MODULE", "MULTIDB_SAMPLE_PG", "MULTIDB_SAMPLE_MARIA", "INNER_SERVER_ALIAS",
                    "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"):
            monkeypatch.delenv(var, raising=False)

    @property
    def real_dir(self) -> Path:
        """Where the sample settings put the *real* sqlite files (nothing may ever appear there)."""
        return self.pytester.path / "real"

    def __call__(self, *args: str, backend: Backend = SQLITE, settings: bool = True, plugins: bool = True,
                 env: dict[str, str] | None = None, worker: bool = False, warm: bool = False,
                 timeout: float = 120) -> Inner:
        # A plain run by default, as users run it. worker=True: run as an xdist worker with a unique id, which
        # the plugin puts in every server test database name (test_<NAME>_<run>_<worker>).
        token = f"t{uuid.uuid4().hex[:8]}" if worker else ""
        pid_file = self.pytester.path / f"inner-{uuid.uuid4().hex[:8]}.pid"
        # Each inner run has a registry of its own: what other runs on this machine left (or are doing) never
        # shows in its output. A test about the registry passes MULTIDB_REGISTRY itself. With -p no:cacheprovider
        # the schema cache goes to the test's own directory too. Test databases are dropped at the end unless
        # warm=True (a test about warm databases), so that each test sees a run make its own.
        variables = {"INNER_SERVER_ALIAS": backend.alias, "INNER_PID_FILE": str(pid_file),
                     "MULTIDB_WARM": "1" if warm else "0",
                     "MULTIDB_REGISTRY": str(self.pytester.path / "registry"),
                     "MULTIDB_CACHE_DIR": str(self.pytester.path / "multidb-cache"), **(env or {})}
        if worker:
            variables["PYTEST_XDIST_WORKER"] = token
        if backend.pg:
            variables["MULTIDB_SAMPLE_PG"] = "1"
        if backend.maria:
            variables["MULTIDB_SAMPLE_MARIA"] = "1"
        with self.monkeypatch.context() as patch:
            for name, value in variables.items():
                patch.setenv(name, value)
            full = [*(PLUGINS if plugins else ()), "-p", "inner_pidfile", *(SETTINGS if settings else ()), *args]
            result = self.pytester.runpytest_subprocess(*full, timeout=timeout)
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        return Inner(result, token, pid)


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> InnerRunner:
    """Run an inner pytest on the sample project: ``inner("-v", backend=POSTGRES).result.assert_outcomes(...)``."""
    return InnerRunner(pytester, monkeypatch)


class Servers:
    """The PostgreSQL and MariaDB servers, queried directly (no Django in the outer process)."""

    pg_up, maria_up = PG_UP, MARIA_UP
    pg_real, maria_real = PG_REAL, MARIA_REAL
    pg_port, maria_port = PG["port"], MARIA["port"]
    pg = staticmethod(pg_query)
    maria = staticmethod(maria_query)
    databases = staticmethod(server_databases)

    @staticmethod
    def closed_port() -> int:
        """A loopback port nothing listens on."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]


@pytest.fixture
def servers() -> type[Servers]:
    return Servers


# -- the real databases, with sentinel rows ---------------------------------------------------------------------


class RealDatabases:
    """The sample's real server databases, with sentinel rows to check afterwards."""

    def __init__(self, servers) -> None:
        self.servers = servers
        self.sentinel = f"multidb_sentinel_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []
        self.tables = {"pg": [self.sentinel], "maria": [self.sentinel]}

    def setup(self) -> None:
        s, pg_real, maria_real = self.servers, self.servers.pg_real, self.servers.maria_real
        if not s.pg(f"SELECT 1 FROM pg_database WHERE datname = '{pg_real}'"):
            s.pg(f'CREATE DATABASE "{pg_real}"')
            self.created.append("pg")
            s.pg("CREATE TABLE widgets_widget (id serial PRIMARY KEY, code varchar(10) UNIQUE, weight int)", pg_real)
            s.pg("INSERT INTO widgets_widget (code, weight) VALUES ('real', 7)", pg_real)
            self.tables["pg"].append("widgets_widget")
        s.pg(f"CREATE TABLE {self.sentinel} (id int PRIMARY KEY, note text)", pg_real)
        s.pg(f"INSERT INTO {self.sentinel} VALUES (1, 'keep me')", pg_real)
        if not s.maria(f"SHOW DATABASES LIKE '{maria_real}'"):
            s.maria(f"CREATE DATABASE `{maria_real}`")
            self.created.append("maria")
            s.maria("CREATE TABLE cycles_category (id int AUTO_INCREMENT PRIMARY KEY, name varchar(100), "
                    "parent_id int NULL)", maria_real)
            s.maria("INSERT INTO cycles_category (name) VALUES ('real')", maria_real)
            self.tables["maria"].append("cycles_category")
        s.maria(f"CREATE TABLE {self.sentinel} (id int PRIMARY KEY, note text)", maria_real)
        s.maria(f"INSERT INTO {self.sentinel} VALUES (1, 'keep me')", maria_real)

    def contents(self) -> dict[str, list[tuple]]:
        s = self.servers
        found = {}
        for table in self.tables["pg"]:
            found[f"pg:{table}"] = s.pg(f"SELECT * FROM {table} ORDER BY 1", s.pg_real)
        for table in self.tables["maria"]:
            found[f"maria:{table}"] = s.maria(f"SELECT * FROM {table} ORDER BY 1", s.maria_real)
        return found

    def teardown(self) -> None:
        s = self.servers
        if "pg" in self.created:
            s.pg(f'DROP DATABASE IF EXISTS "{s.pg_real}"')
        else:
            s.pg(f"DROP TABLE IF EXISTS {self.sentinel}", s.pg_real)
        if "maria" in self.created:
            s.maria(f"DROP DATABASE IF EXISTS `{s.maria_real}`")
        else:
            s.maria(f"DROP TABLE IF EXISTS {self.sentinel}", s.maria_real)


@pytest.fixture
def real(servers) -> Iterator[RealDatabases]:
    if not (servers.pg_up and servers.maria_up):
        pytest.skip("needs both the PostgreSQL and the MariaDB server")
    # One user of the real databases at a time on this machine (this suite may run in several processes at once).
    with FileLock(Path(tempfile.gettempdir()) / "multidb-tests-real-databases.lock"):
        databases = RealDatabases(servers)
        try:
            databases.setup()
            yield databases
        finally:
            databases.teardown()
