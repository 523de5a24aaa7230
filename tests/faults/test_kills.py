"""``kill -9`` of inner runs at exact moments (provisioning, mid-test, teardown) for the server, process and
container kinds, with a fixed ``TEST['NAME']`` and with generated names; what the next run (or
``--multidb-clean``) removes, and what it must leave alone: a pre-existing database under the fixed name, another
live run's database, the real databases' sentinel rows.

The pause is fault injection with the real code, not a mock: the inner plugin ``inner_pause`` (``PAUSE_PLUGIN``)
wraps one real function (``PAUSE_AT=module:attr.path``, optionally ``:after``) or the test body itself
(``PAUSE_AT=test``) so that the run touches a ready file at that moment and waits for a release file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_multidb.footprint import cache_stamp
from pytest_multidb.provision.owner import is_alive
from pytest_multidb.provision.registry import Registry
from tests.support.servers import MARIA, MARIADB, PG, POSTGRES, Backend

pytestmark = pytest.mark.servers

PAUSE_PLUGIN = '''
"""Fault injection: pause the run at one exact moment of the real code (see tests/faults/kills.py)."""
import functools
import importlib
import os
import time
from pathlib import Path


def pause():
    """Say we are here (touch PAUSE_READY), then wait until the outer test touches PAUSE_RELEASE."""
    Path(os.environ["PAUSE_READY"]).touch()
    while not os.path.exists(os.environ["PAUSE_RELEASE"]):
        time.sleep(0.02)


def pytest_configure(config):
    target = os.environ.get("PAUSE_AT", "")
    if target in ("", "test"):
        return
    module, path, *when = target.split(":")
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    real = getattr(owner, name)

    @functools.wraps(real)
    def paused(*args, **kwargs):
        if when != ["after"]:
            pause()
        result = real(*args, **kwargs)
        if when == ["after"]:
            pause()
        return result

    setattr(owner, name, paused)
'''

#: Settings: the sample project, with a fixed TEST['NAME'] on the server alias when FIXED_TEST_NAME is set.
SETTINGS = '''
import os

from sample_models.settings import *  # noqa: F403

if os.environ.get("SERVER_REAL_NAME"):  # the configured NAME (it need not exist: nothing connects to it)
    OTHER_DATABASES[os.environ["INNER_SERVER_ALIAS"]]["NAME"] = os.environ["SERVER_REAL_NAME"]  # noqa: F405
if os.environ.get("FIXED_TEST_NAME"):
    alias, fixed = os.environ["INNER_SERVER_ALIAS"], os.environ["FIXED_TEST_NAME"]
    spec = OTHER_DATABASES[alias]  # noqa: F405
    OTHER_DATABASES[alias] = {**spec, "TEST": {**spec.get("TEST", {}), "NAME": fixed}}  # noqa: F405
'''

#: One test writing a row on the server alias; it pauses inside when PAUSE_AT=test.
TEST = '''
import json
import os

import pytest

from inner_helpers import SERVER, add, count


@pytest.mark.uses_db(SERVER)
def test_writes(multidb):
    add(SERVER, "row")
    if os.environ.get("PAUSE_AT") == "test":
        from inner_pause import pause

        with open(os.environ["PAUSE_READY"] + ".json", "w") as out:  # what the plugin says it provisioned
            json.dump(multidb[SERVER], out, default=str)
        pause()
    assert count(SERVER) == 1
'''

#: A sqlite-only test: a "next run" that cleans the leftovers before provisioning alias 'a'.
QUICK = '''
import pytest


@pytest.mark.uses_db("a")
def test_quick():
    pass
'''

IMAGES = {"MULTIDB_PG_IMAGE": "multidb-test/postgres:15", "MULTIDB_MARIA_IMAGE": "multidb-test/mariadb:10.11"}
# This machine has /.dockerenv, so testcontainers thinks it runs in a container: reach published ports instead.
DOCKER_ENV = {"TESTCONTAINERS_CONNECTION_MODE": "docker_host", "TC_HOST": "127.0.0.1"}
READY_TIMEOUT = 90.0


def write_project(pytester: pytest.Pytester) -> None:
    """The inner plugin, settings and test files of the kill tests."""
    pytester.makepyfile(inner_pause=PAUSE_PLUGIN, kill_settings=SETTINGS, test_kill=TEST, test_quick=QUICK)


@dataclass
class Paused:
    """An inner run stopped at its moment: kill it, or let it go on."""

    name: str
    process: subprocess.Popen
    ready: Path
    release: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def info(self) -> dict:
        """The ``multidb`` fixture's entry of the server alias, written by a run paused mid-test."""
        return json.loads(self.ready.with_name(self.ready.name + ".json").read_text())

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def finish(self, timeout: float = 60) -> int:
        self.release.touch()
        return self.process.wait(timeout)


class Runs:
    """Inner runs of one test, sharing a registry directory (``MULTIDB_REGISTRY``)."""

    def __init__(self, pytester: pytest.Pytester, backend: Backend, **env: str) -> None:
        self.pytester, self.backend, self.extra = pytester, backend, env
        self.registry = pytester.path / "registry"
        self.started: list[Paused] = []

    def env(self, fixed: str | None = None, worker: str | None = None, **extra: str) -> dict[str, str]:
        """The environment of an inner run: fixed TEST['NAME'] or a generated name carrying ``worker``."""
        env = dict(os.environ)
        for name in ("PYTEST_XDIST_WORKER", "FIXED_TEST_NAME", "PAUSE_AT", "PYTEST_ADDOPTS", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        env.update({"MULTIDB_REGISTRY": str(self.registry), "MULTIDB_CACHE_DIR": str(self.registry.parent / "cache"),
                    "INNER_SERVER_ALIAS": self.backend.alias, **IMAGES, **DOCKER_ENV, **self.extra, **extra})
        env["MULTIDB_SAMPLE_PG" if self.backend.pg else "MULTIDB_SAMPLE_MARIA"] = "1"
        if fixed:
            env["FIXED_TEST_NAME"] = fixed
        if worker:
            env["PYTEST_XDIST_WORKER"] = worker  # part of the generated name: test_<NAME>_<run>_<worker>
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:randomly", "-p", "inner_pause",
                "--multidb-settings", "kill_settings", *args]

    def start(self, name: str, pause_at: str, *args: str, fixed: str | None = None, cache: bool = False) -> Paused:
        """Start an inner run of ``test_kill.py`` that pauses at ``pause_at`` (not waited for yet); ``cache``: with
        pytest's cache, so with the schema cache (PostgreSQL templates)."""
        ready, release = self.pytester.path / f"{name}.ready", self.pytester.path / f"{name}.release"
        log = self.pytester.path / f"{name}.log"
        env = self.env(fixed, None if fixed else f"{name}{uuid.uuid4().hex[:6]}", PAUSE_AT=pause_at,
                       PAUSE_READY=str(ready), PAUSE_RELEASE=str(release))
        with log.open("w") as out:
            process = subprocess.Popen(self.command(*(() if cache else ("-p", "no:cacheprovider")), *args,
                                                    "test_kill.py"),
                                       cwd=self.pytester.path, env=env, stdout=out, stderr=subprocess.STDOUT)
        paused = Paused(name, process, ready, release, log)
        self.started.append(paused)
        return paused

    @staticmethod
    def wait(*runs: Paused) -> None:
        """Until every run of ``runs`` reached its moment."""
        deadline = time.monotonic() + READY_TIMEOUT
        for run in runs:
            while not run.ready.exists():
                assert run.process.poll() is None, f"run {run.name} ended before its moment:\n{run.output()}"
                assert time.monotonic() < deadline, f"run {run.name} never reached its moment:\n{run.output()}"
                time.sleep(0.05)

    def run(self, *args: str, fixed: str | None = None, cache: bool = False,
            timeout: float = 120) -> subprocess.CompletedProcess:
        """A plain (not paused) inner run to its end; ``args`` name the test file or ``--multidb-clean``."""
        return subprocess.run(self.command(*(() if cache else ("-p", "no:cacheprovider")), *args),
                              cwd=self.pytester.path,
                              env=self.env(fixed, None if fixed else f"next{uuid.uuid4().hex[:6]}"),
                              capture_output=True, text=True, timeout=timeout)

    def records(self) -> list[dict]:
        return [json.loads(path.read_text()) for path in sorted(self.registry.glob("*.json"))]

    def records_of(self, run: Paused) -> list[dict]:
        return [record for record in self.records() if record["owner_pid"] == run.process.pid]

    def stop_all(self) -> None:
        """Let every run still paused go on and end (a test's finally)."""
        for run in self.started:
            if run.process.poll() is None:
                run.release.touch()
        for run in self.started:
            try:
                run.process.wait(60)
            except subprocess.TimeoutExpired:
                run.kill()


def lines(output: str, prefix: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(prefix)]


# -- the server, looked at directly ------------------------------------------------------------------------------


def database_stamp(servers, backend: Backend, name: str) -> tuple[bool, str | None]:
    """Whether database ``name`` exists on the backend's server, and its comment."""
    if backend.pg:
        rows = servers.pg(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{name}'")
    else:
        rows = servers.maria(f"SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'")
    return bool(rows), (rows[0][0] or None) if rows else None


def drop(servers, backend: Backend, name: str) -> None:
    if backend.pg:
        servers.pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        servers.maria(f"DROP DATABASE IF EXISTS `{name}`")


def databases_named(servers, backend: Backend, part: str) -> set[str]:
    prefix = "pg:" if backend.pg else "maria:"
    return {name[len(prefix):] for name in servers.databases() if name.startswith(prefix) and part in name}


def server_of(backend: Backend) -> str:
    where = PG if backend.pg else MARIA
    return f"{where['host']}:{where['port']}"


def docker_ids(token: str) -> list[str]:
    """Containers (running or not) labelled with a run's token."""
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=pytest-multidb.token={token}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def alive(pid: int) -> bool:
    return is_alive(pid, None)


VENDORS = [pytest.param(POSTGRES, id="pg"), pytest.param(MARIADB, id="maria")]


# -- server kind ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", VENDORS)
def test_server_kind_killed_at_each_moment(pytester, inner, servers, real, backend):
    """Killed between record and CREATE, CREATE and stamp, stamp and confirm, mid-test (fixed name) and during
    teardown: the next run drops exactly the databases stamped by the dead run, and says what it did."""
    write_project(pytester)
    before = real.contents()
    runs = Runs(pytester, backend)
    fixed = f"multidb_kill_{uuid.uuid4().hex[:8]}"
    module = "pytest_multidb.provision.server"
    moments = {
        "gcreate": f"{module}:create_database",  # recorded (intent), nothing made yet
        "gstamp": f"{module}:stamp_database",  # CREATE DATABASE done, not stamped yet
        "gconfirm": f"{module}:stamp_database:after",  # stamped, the record still says intent
        "gdown": f"{module}:drop_database",  # teardown: the tests ran, the drop has not
    }
    names: dict[str, str] = {}
    try:
        paused = {name: runs.start(name, at) for name, at in moments.items()}
        paused["fmid"] = runs.start("fmid", "test", fixed=fixed)  # mid-test, under a fixed TEST['NAME']
        runs.wait(*paused.values())
        names.update({name: runs.records_of(run)[0]["name"] for name, run in paused.items()})
        assert {r["state"] for r in runs.records_of(paused["gcreate"])} == {"intent"}
        assert {r["state"] for r in runs.records_of(paused["gconfirm"])} == {"intent"}
        assert {r["state"] for r in runs.records_of(paused["gdown"])} == {"made"}
        tokens = {name: runs.records_of(run)[0]["token"] for name, run in paused.items()}
        for run in paused.values():
            run.kill()
        assert database_stamp(servers, backend, names["gcreate"]) == (False, None)
        assert database_stamp(servers, backend, names["gstamp"]) == (True, None)
        for name in ("gconfirm", "gdown", "fmid"):
            assert database_stamp(servers, backend, names[name]) == (True, f"pytest-multidb {tokens[name]}")
        (runs.registry / "0-from-an-older-version.json").write_text("")  # a record cut short by a kill

        done = runs.run("test_quick.py")  # the next run: cleans, then provisions 'a' (sqlite) and passes

        assert done.returncode == 0, done.stdout + done.stderr
        where = server_of(backend)
        engine = "postgresql" if backend.pg else "mysql"

        def what(name: str) -> str:
            return (f"database {names[name]!r} ({engine} {where}) of alias {backend.alias!r}, "
                    f"left by pid {paused[name].process.pid}")

        removed = lines(done.stdout, "multidb: removed leftover ")
        assert sorted(removed) == sorted([
            f"multidb: removed leftover record of {what('gcreate')}: never made",
            f"multidb: removed leftover record of {what('gstamp')}: not ours: left alone (it has no stamp)",
            f"multidb: removed leftover {what('gconfirm')}",
            f"multidb: removed leftover {what('gdown')}",
            f"multidb: removed leftover {what('fmid')}",
            f"multidb: removed leftover unreadable record {runs.registry / '0-from-an-older-version.json'} (empty); "
            "nothing else touched",
        ]), done.stdout
        assert lines(done.stdout, "multidb: could not remove") == []
        for name in ("gconfirm", "gdown", "fmid"):
            assert database_stamp(servers, backend, names[name]) == (False, None)
        assert database_stamp(servers, backend, names["gstamp"]) == (True, None)  # unproven: left alone
        assert list(runs.registry.iterdir()) == []
        assert real.contents() == before
    finally:
        runs.stop_all()
        for name in {*names.values(), fixed}:
            drop(servers, backend, name)


@pytest.mark.parametrize("backend", VENDORS)
def test_a_database_under_the_fixed_name_that_is_not_ours_survives(pytester, inner, servers, real, backend):
    """A pre-existing database (with rows) under the fixed TEST['NAME'], and another live run's database under
    it, survive ``--multidb-clean`` and the next run; the next run says in one line what to do."""
    write_project(pytester)
    before = real.contents()
    runs = Runs(pytester, backend)
    theirs, shared = f"multidb_theirs_{uuid.uuid4().hex[:8]}", f"multidb_shared_{uuid.uuid4().hex[:8]}"
    if backend.pg:
        servers.pg(f'CREATE DATABASE "{theirs}"')
        servers.pg("CREATE TABLE precious (id int PRIMARY KEY, note text)", theirs)
        servers.pg("INSERT INTO precious VALUES (1, 'keep me')", theirs)
    else:
        servers.maria(f"CREATE DATABASE `{theirs}`")
        servers.maria("CREATE TABLE precious (id int PRIMARY KEY, note text)", theirs)
        servers.maria("INSERT INTO precious VALUES (1, 'keep me')", theirs)
    query = servers.pg if backend.pg else servers.maria

    try:
        first = runs.start("theirs1", "pytest_multidb.provision.server:create_database", fixed=theirs)
        second = runs.start("theirs2", "pytest_multidb.provision.server:create_database", fixed=theirs)
        live = runs.start("live", "test", fixed=shared)
        rival = runs.start("rival", "pytest_multidb.provision.server:create_database", fixed=shared)
        runs.wait(first, second, live, rival)
        live_token = runs.records_of(live)[0]["token"]
        first.kill()
        rival.kill()

        cleaned = runs.run("--multidb-clean")

        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        engine, where = ("postgresql" if backend.pg else "mysql"), server_of(backend)
        assert sorted(lines(cleaned.stdout, "multidb: removed ")) == sorted([
            f"multidb: removed record of database {theirs!r} ({engine} {where}) of alias {backend.alias!r}, left by "
            f"pid {first.process.pid}: not ours: left alone (it has no stamp)",
            f"multidb: removed record of database {shared!r} ({engine} {where}) of alias {backend.alias!r}, left by "
            f"pid {rival.process.pid}: not ours: left alone (it is stamped 'pytest-multidb {live_token}')",
        ]), cleaned.stdout
        assert query("SELECT * FROM precious", theirs) == [(1, "keep me")]
        assert database_stamp(servers, backend, shared) == (True, f"pytest-multidb {live_token}")
        assert len(runs.records_of(live)) == 1  # the live run's record is not touched

        second.kill()
        done = runs.run("test_kill.py", fixed=theirs)  # the next run, under the same fixed name

        out = done.stdout + done.stderr
        assert done.returncode == pytest.ExitCode.USAGE_ERROR, out
        assert lines(done.stdout, "multidb: removed leftover") == [
            f"multidb: removed leftover record of database {theirs!r} ({engine} {where}) of alias "
            f"{backend.alias!r}, left by pid {second.process.pid}: not ours: left alone (it has no stamp)"]
        assert (f"multidb: alias {backend.alias!r} (TEST['NAME']): test database {theirs!r} already exists on "
                f"{where} and was not made by this run, so it is left alone. Fix: drop it yourself if nobody needs "
                "it, choose another TEST['NAME'], or remove TEST['NAME'] to get a unique name per run.") in out
        assert out.count("already exists") == 1
        assert "start the server" not in out and "Traceback" not in out
        assert query("SELECT * FROM precious", theirs) == [(1, "keep me")]

        assert live.finish() == 0, live.output()  # the live run was never disturbed, and removes its database
        assert database_stamp(servers, backend, shared) == (False, None)
        assert list(runs.registry.glob("*.json")) == []
        assert real.contents() == before
    finally:
        runs.stop_all()
        drop(servers, backend, theirs)
        drop(servers, backend, shared)


# -- process and container kinds ------------------------------------------------------------------------------------


def test_process_kind_killed_at_each_moment(pytester, inner, servers, real):
    """Killed before the server was spawned (initdb done), before CREATE DATABASE, mid-test (fixed name) and
    during teardown: the next run stops exactly the recorded servers (pid and create time) and removes their
    stamped directories."""
    write_project(pytester)
    before = real.contents()
    runs = Runs(pytester, POSTGRES)
    moments = {
        "pspawn": "pytest_multidb.provision.server_process:ServerProcess._spawn",
        "pcreate": "pytest_multidb.provision.server:create_database",
        "pdown": "pytest_multidb.provision.server_process:ServerProcess.close",
    }
    try:
        paused = {name: runs.start(name, at, "--multidb-provision", "b=process") for name, at in moments.items()}
        paused["pmid"] = runs.start("pmid", "test", "--multidb-provision", "b=process", fixed="multidb_fixed")
        runs.wait(*paused.values())
        records = {name: runs.records_of(run)[0] for name, run in paused.items()}
        assert "pid" not in records["pspawn"] and records["pspawn"]["state"] == "intent"
        for name in ("pcreate", "pmid", "pdown"):
            assert alive(records[name]["pid"]), name
        for run in paused.values():
            run.kill()
        for record in records.values():
            assert Path(record["directory"]).is_dir()

        done = runs.run("test_quick.py")

        assert done.returncode == 0, done.stdout + done.stderr
        assert sorted(lines(done.stdout, "multidb: removed leftover ")) == sorted(
            f"multidb: removed leftover server process {record.get('pid', '(not started)')} ({record['directory']}) "
            f"of alias 'b', left by pid {paused[name].process.pid}"
            for name, record in records.items()
        ), done.stdout
        for record in records.values():
            assert not Path(record["directory"]).exists()
            assert "pid" not in record or not alive(record["pid"])
        assert list(runs.registry.iterdir()) == []
        assert real.contents() == before
    finally:
        runs.stop_all()
        Registry(runs.registry).clean()  # what a failed assertion left (servers of dead runs need no Django)


def test_container_kind_killed_at_each_moment(pytester, inner, real):
    """Killed after Docker created the container but before it started (no id recorded yet), mid-test (fixed
    name) and during teardown: the next run finds each container by its run's label and removes it."""
    write_project(pytester)
    before = real.contents()
    runs = Runs(pytester, POSTGRES)
    moments = {
        "cstart": "testcontainers.core.docker_client:DockerClient.start",  # created, not started
        "cdown": "pytest_multidb.provision.container:_stop",
    }
    args = ("--multidb-provision", "b=container")
    try:
        paused = {name: runs.start(name, at, *args) for name, at in moments.items()}
        paused["cmid"] = runs.start("cmid", "test", *args, fixed="multidb_fixed")
        runs.wait(*paused.values())
        records = {name: runs.records_of(run)[0] for name, run in paused.items()}
        assert records["cstart"]["id"] is None and records["cstart"]["state"] == "intent"
        assert records["cmid"]["id"] and records["cdown"]["state"] == "made"
        for run in paused.values():
            run.kill()
        for record in records.values():
            assert len(docker_ids(record["token"])) == 1

        done = runs.run("test_quick.py")

        assert done.returncode == 0, done.stdout + done.stderr
        assert sorted(lines(done.stdout, "multidb: removed leftover ")) == sorted([
            f"multidb: removed leftover container labelled pytest-multidb.token={records['cstart']['token']} "
            f"(being started) of alias 'b', left by pid {paused['cstart'].process.pid}",
            *(f"multidb: removed leftover container {records[name]['id'][:12]} of alias 'b', left by pid "
              f"{paused[name].process.pid}" for name in ("cmid", "cdown")),
        ]), done.stdout
        for record in records.values():
            assert docker_ids(record["token"]) == []
        assert list(runs.registry.iterdir()) == []
        assert real.contents() == before
    finally:
        runs.stop_all()
        Registry(runs.registry).clean()  # what a failed assertion left


# -- the schema cache's templates --------------------------------------------------------------------------------


def test_a_cloned_test_database_is_stamped_and_templates_are_dropped_by_exact_name_only(pytester, inner, servers,
                                                                                       real):
    """A test database cloned from the cache's template is stamped too (comments are not copied), so a killed
    run's clone is removed; a rebuild replaces only the template this cache made, never another database that
    the old ``LIKE 'multidb_tpl_<name>_%'`` pattern matched."""
    write_project(pytester)
    before = real.contents()
    real_name = f"multidb_tplchk_{uuid.uuid4().hex[:8]}"
    runs = Runs(pytester, POSTGRES, SERVER_REAL_NAME=real_name)
    lookalike = f"multidb_tpl_{real_name}_0123456789abcdef"  # not ours: made by someone else
    servers.pg(f'CREATE DATABASE "{lookalike}"')
    servers.pg("CREATE TABLE precious (id int PRIMARY KEY)", lookalike)
    servers.pg("INSERT INTO precious VALUES (1)", lookalike)

    def templates() -> set[str]:
        return databases_named(servers, POSTGRES, f"multidb_tpl_{real_name}_")

    try:
        built = runs.run("test_kill.py", cache=True)
        assert built.returncode == 0, built.stdout + built.stderr
        index = json.loads((pytester.path / ".pytest_cache" / "d" / "multidb" / "templates.json").read_text())
        [template] = templates() - {lookalike}
        assert [(entry["server"], entry["name"]) for entry in index["templates"]] == [(server_of(POSTGRES), template)]
        cache_dir = pytester.path / ".pytest_cache" / "d" / "multidb"
        assert database_stamp(servers, POSTGRES, template) == (True, cache_stamp(index["id"], cache_dir))

        clone = runs.start("clone", "test", cache=True)
        runs.wait(clone)
        [record] = runs.records_of(clone)
        assert clone.info()["cloned"] is True
        assert database_stamp(servers, POSTGRES, record["name"]) == (True, f"pytest-multidb {record['token']}")
        clone.kill()
        cleaned = runs.run("--multidb-clean")
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        assert f"multidb: removed database {record['name']!r}" in cleaned.stdout
        assert database_stamp(servers, POSTGRES, record["name"]) == (False, None)

        oid = f"SELECT oid FROM pg_database WHERE datname = '{template}'"
        first_oid = servers.pg(oid)
        rebuilt = runs.run("test_kill.py", "--multidb-rebuild", cache=True)
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert templates() == {template, lookalike}
        assert servers.pg(oid) != first_oid  # ours was dropped (by its exact name) and made again
        assert servers.pg("SELECT * FROM precious", lookalike) == [(1,)]
        assert real.contents() == before
    finally:
        runs.stop_all()
        for name in templates():
            drop(servers, POSTGRES, name)
