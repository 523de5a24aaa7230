"""A bounded footprint: warm test databases and schema-cache templates never pile up on a team's server.

One project runs from six fresh checkouts in turn (each deleted after its run), with and without pytest's cache
provider, on sqlite + PostgreSQL + MariaDB; afterwards at most ``multidb_keep`` warm databases and templates of it
are on each server, while another project's, a live run's and an unstamped look-alike survive. Age is tested by
rewriting a stamp's claim time (the clock the test sets); ``--multidb-clean=all`` and ``--dry-run`` too. The
real databases' sentinel rows are checked in every test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from pytest_multidb.footprint import FALLBACK_ROOT, Policy, Stamp, to_drop
from tests.plugin.test_warm import HANGING, SETTINGS, TESTS
from tests.support.inner import assert_no_traceback
from tests.support.projects import ROOT, copy_project

pytestmark = pytest.mark.servers

KEEP = 2


class Checkouts:
    """One project (its real databases named ``mdbf_<random>``, each with a sentinel row), run from checkouts."""

    def __init__(self, servers, host: str) -> None:
        self.servers = servers
        # The machine the runs go by (their stamps): this test's alone, so that the runs of the tests beside it,
        # which bound and clean what stays on the same servers, neither touch its databases nor have them touched.
        self.host = host
        self.name = f"mdbf_{uuid.uuid4().hex[:8]}"
        self.registry = Path(tempfile.mkdtemp(prefix="mdbf-registry-"))
        servers.pg(f'CREATE DATABASE "{self.name}"')
        servers.pg("CREATE TABLE sentinel (x int); INSERT INTO sentinel VALUES (42)", self.name)
        servers.maria(f"CREATE DATABASE `{self.name}`")
        servers.maria("CREATE TABLE sentinel (x int)", self.name)
        servers.maria("INSERT INTO sentinel VALUES (42)", self.name)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "inner_settings.py").write_text(SETTINGS.replace('"PROJECT"', f'"{self.name}"'))
        (directory / "test_shop.py").write_text(TESTS)
        (directory / "test_hanging.py").write_text(HANGING)
        copy_project(directory, "shopapp")
        return directory

    def env(self, directory: Path, **extra: str) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": f"{directory}{os.pathsep}{ROOT}", "MULTIDB_WARM": "1",
               "MULTIDB_KEEP": str(KEEP), "MULTIDB_REGISTRY": str(self.registry), "MULTIDB_HOST_ID": self.host,
               "NAMES_FILE": str(directory / "names.json"), **extra}
        for variable in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "MULTIDB_CACHE_DIR"):
            env.pop(variable, None)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:randomly", "-p", "no:asyncio",
                "--multidb-settings", "inner_settings", *args]

    def run(self, directory: Path, *args: str, passed: int | None = 2, **env: str) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(*(args or ("test_shop.py",))), cwd=directory,
                              env=self.env(directory, **env), capture_output=True, text=True, timeout=180)
        if passed is not None:
            assert f"{passed} passed" in done.stdout and "failed" not in done.stdout, done.stdout + done.stderr
        assert_no_traceback(done.stdout + done.stderr)
        return done

    def stamped(self) -> dict[str, list[tuple[str, Stamp]]]:
        """``{server: [(database, stamp)]}`` of this project's warm databases and templates (named after its NAME)."""
        found: dict[str, list[tuple[str, Stamp]]] = {"pg": [], "maria": []}
        rows = {"pg": self.servers.pg("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"),
                "maria": self.servers.maria("SELECT SCHEMA_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA")}
        for server, pairs in rows.items():
            for database, comment in pairs:
                stamp = Stamp.parse(comment)
                if stamp is not None and stamp.host == self.host and self.name in database:
                    found[server].append((database, stamp))
        return found

    def sentinels_intact(self) -> None:
        assert self.servers.pg("SELECT x FROM sentinel", self.name) == [(42,)]
        assert self.servers.maria("SELECT x FROM sentinel", self.name) == [(42,)]

    def drop_everything(self) -> None:
        for (database,) in self.servers.pg(f"SELECT datname FROM pg_database WHERE datname LIKE '%{self.name}%'"):
            self.servers.pg(f'DROP DATABASE "{database}" WITH (FORCE)')
        for (database,) in self.servers.maria(f"SHOW DATABASES LIKE '%{self.name}%'"):
            self.servers.maria(f"DROP DATABASE `{database}`")
        shutil.rmtree(self.registry, ignore_errors=True)


@pytest.fixture
def host() -> str:
    return f"mdbf-host-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def project(servers, host):
    made = Checkouts(servers, host)
    yield made
    made.drop_everything()


@pytest.fixture
def other_project(servers, host):
    made = Checkouts(servers, host)
    yield made
    made.drop_everything()


@pytest.mark.parametrize("cache_provider", [True, False], ids=["cache-provider", "no-cache-provider"])
def test_six_fresh_checkouts_leave_at_most_keep_of_each(project, other_project, servers, tmp_path, cache_provider):
    flags = () if cache_provider else ("-p", "no:cacheprovider")
    other = other_project.write(tmp_path / "other")
    other_project.run(other, "test_shop.py", *flags)
    other_kept = other_project.stamped()
    lookalike = f"test_{project.name}_lookalike_0"
    servers.pg(f'CREATE DATABASE "{lookalike}"')
    servers.maria(f"CREATE DATABASE `{lookalike}`")
    live_dir = project.write(tmp_path / "live")
    holder = subprocess.Popen(project.command("test_hanging.py", *flags), cwd=live_dir, text=True,
                            env=project.env(live_dir, READY_FILE=str(live_dir / "ready"),
                                            RELEASE_FILE=str(live_dir / "release")),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (live_dir / "ready").exists():
            assert holder.poll() is None and time.monotonic() < deadline, holder.stdout.read() if holder.stdout else ""
            time.sleep(0.05)
        live = json.loads((live_dir / "names.json").read_text())
        fallback, outputs = [], []
        for _ in range(6):
            checkout = project.write(Path(tempfile.mkdtemp(prefix="mdbf-checkout-")))
            fallback.append(checkout)
            outputs.append(project.run(checkout, "test_shop.py", *flags).stdout)
            shutil.rmtree(checkout)
        outputs.append(project.run(project.write(tmp_path / "last"), "test_shop.py", *flags).stdout)
        # What the bound removed is said, one line each (by these runs, unless a concurrent one got there first).
        assert any(f"dropped warm database 'test_{project.name}" in out for out in outputs), outputs
        dropped = [line for out in outputs for line in out.splitlines() if ": dropped warm database" in line]
        # Each names the server's vendor and address as configured (no PORT here: the host alone).
        assert all(line.startswith(("multidb: postgresql 127.0.0.1: ", "multidb: mysql 127.0.0.1: "))
                   for line in dropped), dropped
        for server, kept in project.stamped().items():
            kinds = [stamp.what for _database, stamp in kept]
            assert kinds.count("warm") <= KEEP and kinds.count("template") <= KEEP, (server, kept)
        for server, kept in other_kept.items():  # another project's: all still there
            assert {database for database, _ in kept} <= {database for database, _ in other_project.stamped()[server]}
        everything = servers.databases()
        assert f"pg:{lookalike}" in everything and f"maria:{lookalike}" in everything
        assert f"pg:{live['pg']}" in everything and f"maria:{live['maria']}" in everything  # a live run's: untouched
        if not cache_provider:  # the fallback cache directories of the deleted checkouts are gone too
            indexes = [path.read_text() for path in FALLBACK_ROOT.glob("*/templates.json")]
            assert not [c for c in fallback if any(str(c) in index for index in indexes)]
    finally:
        (live_dir / "release").touch()
        holder.wait(timeout=120)
        servers.pg(f'DROP DATABASE IF EXISTS "{lookalike}"')
        servers.maria(f"DROP DATABASE IF EXISTS `{lookalike}`")
    project.sentinels_intact()
    other_project.sentinels_intact()


def test_a_database_not_claimed_for_longer_than_the_age_is_dropped(project, other_project, servers, tmp_path):
    first = project.write(tmp_path / "first")
    project.run(first, "test_shop.py")
    [warm] = [database for database, stamp in project.stamped()["pg"] if stamp.what == "warm"]
    index_path = first / ".pytest_cache" / "d" / "multidb" / "templates.json"
    index = json.loads(index_path.read_text())
    for entry in index["warm"]:
        entry["claimed"] -= 20 * 86400  # claimed 20 days ago, by the clock the test sets
    index_path.write_text(json.dumps(index))
    other = other_project.write(tmp_path / "other")
    plan = other_project.run(other, "--multidb-clean", "--dry-run", passed=None)  # lists, drops nothing
    assert f"would drop warm database {warm!r}: not claimed for 20 days (multidb_max_age_days = 14)" in plan.stdout
    other_project.run(other, "test_shop.py")  # the next run that reaches the server drops it
    assert f"pg:{warm}" not in servers.databases()
    project.sentinels_intact()


def test_the_rules_with_a_clock_the_test_sets(tmp_path):
    host = socket.gethostname()
    now = 1_000_000_000.0
    (tmp_path / "templates.json").write_text(json.dumps({"id": "c1", "roots": [str(tmp_path)], "templates": [
        {"name": "t_one", "claimed": now, "database": "shop"}], "warm": [
        {"name": name, "claimed": now - age, "database": "shop"}
        for name, age in (("w_new", 60), ("w_mid", 3600), ("w_old", 7200), ("w_aged", 15 * 86400))]}))

    def stamp(what: str = "warm", cache_id: str = "c1", on: str = host) -> str:
        return Stamp(what, cache_id, on, str(tmp_path)).render()

    found = [("w_new", stamp()), ("w_mid", stamp()), ("w_old", stamp()), ("w_aged", stamp()),
             ("t_one", stamp("template")), ("gone", stamp(cache_id="c2")), ("elsewhere", stamp(on="otherhost")),
             ("plain", "not ours")]
    going = dict(to_drop(found, Policy(keep=2, max_age_days=14), now))
    assert set(going) == {"w_old", "w_aged", "gone"}
    assert going["w_aged"].startswith("not claimed for 15 days")
    assert going["w_old"].startswith("more than 2 warm database(s) of shop")
    assert going["gone"].startswith("its cache is gone")
    assert set(dict(to_drop(found, Policy(), now, everything=True))) == {n for n, _ in found} - {"elsewhere", "plain"}
    shutil.rmtree(tmp_path)
    tmp_path.mkdir()
    assert dict(to_drop(found, Policy(), now))["w_new"].startswith("its cache is gone")  # the index is gone


def test_clean_all_and_its_dry_run(project, other_project, servers, tmp_path):
    mine, theirs = project.write(tmp_path / "mine"), other_project.write(tmp_path / "theirs")
    project.run(mine, "test_shop.py")
    other_project.run(theirs, "test_shop.py")
    before = {**dict(project.stamped()["pg"]), **dict(other_project.stamped()["pg"])}
    plan = project.run(mine, "--multidb-clean", "--dry-run", passed=None)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "would drop" in plan.stdout and "Warning" not in plan.stdout + plan.stderr
    assert set(dict(project.stamped()["pg"])) | set(dict(other_project.stamped()["pg"])) == set(before)
    cleaned = project.run(mine, "--multidb-clean", passed=None)  # this project's only
    assert cleaned.returncode == 0 and "Warning" not in cleaned.stdout + cleaned.stderr, cleaned.stdout
    assert project.stamped() == {"pg": [], "maria": []} and other_project.stamped()["pg"]
    everything = project.run(mine, "--multidb-clean=all", passed=None)  # every one of this host
    assert everything.returncode == 0, everything.stdout
    assert other_project.stamped() == {"pg": [], "maria": []}
    project.sentinels_intact()
    other_project.sentinels_intact()


CONFIGURING_CONFTEST = """
def pytest_configure(config):
    from django.conf import settings

    settings.configure(SECRET_KEY="x", INSTALLED_APPS=["django.contrib.contenttypes"],
                       DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "real.db"}})
"""


def test_clean_reads_settings_a_conftest_configures_and_says_so_without_any(pytester, monkeypatch):
    """Django REST framework's conftest calls ``settings.configure()`` in ``pytest_configure``: ``--multidb-clean``
    sees them (as a test run does); with no settings at all, one line and nothing removed."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("MULTIDB_REGISTRY", str(pytester.path / "registry"))
    for variable in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(variable, raising=False)
    bare = pytester.runpytest_subprocess("-p", "no:django", "--multidb-clean")
    assert bare.ret == 1
    assert bare.stdout.lines[-1].startswith("multidb: --multidb-clean: no Django settings, so no server to clean")
    assert_no_traceback(bare.stdout.str() + bare.stderr.str())

    pytester.makeconftest(CONFIGURING_CONFTEST)
    cleaned = pytester.runpytest_subprocess("-p", "no:django", "--multidb-clean")
    assert cleaned.ret == 0, cleaned.stdout.str() + cleaned.stderr.str()
    assert f"multidb: 0 leftover(s) of dead runs in {pytester.path / 'registry'}" in cleaned.stdout.lines
    assert_no_traceback(cleaned.stdout.str() + cleaned.stderr.str())
