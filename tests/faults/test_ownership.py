"""Ownership that proves itself, resource by resource: records written atomically, unreadable ones reported,
a process stopped only when its create time matches, containers removed only when their labels name a dead
owner on this host, and a leftover database whose removal fails keeps its record and says why.

Records are written here by hand, as a run killed with ``kill -9`` leaves them: the owner is a pid that no longer
runs. Database records are cleaned by ``pytest --multidb-clean`` in an inner run (Django is set up only there).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from pytest_multidb.provision.owner import (
    LABEL_CREATE_TIME,
    LABEL_HOST,
    LABEL_PID,
    LABEL_TOKEN,
    STAMP_FILE,
    Owner,
    is_alive,
)
from pytest_multidb.provision.registry import Registry
from tests.support.servers import PG

IMAGE = "multidb-test/postgres:15"


@pytest.fixture
def dead() -> Owner:
    """The owner a run killed with ``kill -9`` leaves in its records: a pid (of this host) that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(child.pid).create_time()
    child.wait()
    return Owner(child.pid, created, socket.gethostname())


def test_records_are_written_atomically_and_private(tmp_path):
    registry = Registry(tmp_path / "registry")
    path = registry.add({"type": "database", "alias": "b", "name": "x", "settings": {"PASSWORD": "secret"}})
    registry.update(path, state="made")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(registry.directory.stat().st_mode) == 0o700
    assert [p.name for p in registry.directory.iterdir()] == [path.name]  # no temp file left beside it
    record = json.loads(path.read_text())
    assert (record["state"], record["token"], record["owner_pid"]) == ("made", registry.token, os.getpid())


def test_unreadable_records_are_reported_and_removed(tmp_path):
    registry = Registry(tmp_path / "registry")
    registry.directory.mkdir()
    (registry.directory / "1-empty.json").write_text("")
    (registry.directory / "2-cut.json").write_text('{"type": "datab')
    (registry.directory / "3-foreign.json").write_text('["not", "a", "record"]')
    mine = registry.add({"type": "process", "alias": "b", "directory": str(tmp_path / "nothing")})

    removed, failed = registry.clean()

    d = registry.directory
    assert removed == [
        f"unreadable record {d / '1-empty.json'} (empty); nothing else touched",
        f"unreadable record {d / '2-cut.json'} (not JSON (15 bytes)); nothing else touched",
        f"unreadable record {d / '3-foreign.json'} (not a record of pytest-multidb); nothing else touched",
    ]
    assert failed == []
    assert list(d.iterdir()) == [mine]  # a live run's record (ours) is not a leftover


def test_only_dead_owners_of_this_host_are_leftovers(tmp_path, dead):
    me = Owner.me()
    assert me.alive() and not dead.alive()
    assert Owner(dead.pid, dead.created, "another-host").alive()  # never judged from here
    assert not Owner(me.pid, me.created - 3600, me.host).alive()  # a recycled pid: not the run that wrote it
    assert not is_alive(dead.pid, None)


def _server_record(registry: Registry, directory: Path, pid: int | None, created: float | None) -> Path:
    path = registry.add({"type": "process", "alias": "b", "directory": str(directory)})
    if pid is not None:
        registry.update(path, state="made", pid=pid, create_time=created)
    return path


def test_a_process_is_stopped_only_when_its_create_time_matches(tmp_path, dead):
    registry = Registry(tmp_path / "registry", owner=dead)
    stranger = subprocess.Popen(["sleep", "60"])  # has the recorded pid, but is not the process we started
    ours = subprocess.Popen(["sleep", "60"])
    try:
        stamped, unstamped = tmp_path / "ours", tmp_path / "not-ours"
        stamped.mkdir()
        (stamped / STAMP_FILE).write_text(registry.stamp)
        unstamped.mkdir()
        _server_record(registry, unstamped, stranger.pid, psutil.Process(stranger.pid).create_time() - 50)
        _server_record(registry, stamped, ours.pid, psutil.Process(ours.pid).create_time())

        removed, failed = Registry(tmp_path / "registry").clean()

        assert failed == []
        assert sorted(removed) == sorted([
            f"record of server process {stranger.pid} ({unstamped}) of alias 'b', left by pid {dead.pid}: pid "
            f"{stranger.pid} is another process now: left alone; directory not ours: left alone (no stamp in "
            f"{unstamped})",
            f"server process {ours.pid} ({stamped}) of alias 'b', left by pid {dead.pid}",
        ])
        assert stranger.poll() is None and unstamped.is_dir()
        assert ours.wait(10) == -9 and not stamped.exists()
        assert list(registry.records()) == []
    finally:
        stranger.kill()
        ours.kill()
        stranger.wait()
        ours.wait()


def _docker_create(labels: dict[str, str]) -> str:
    flags = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
    done = subprocess.run(["docker", "create", *flags, "-e", "POSTGRES_PASSWORD=x", IMAGE],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _container_exists(cid: str) -> bool:
    return subprocess.run(["docker", "inspect", cid], capture_output=True).returncode == 0


@pytest.mark.servers
def test_containers_are_removed_only_when_their_labels_name_a_dead_owner_on_this_host(tmp_path, dead):
    registry = Registry(tmp_path / "registry", owner=dead)
    me = Owner.me()
    owner_labels = {LABEL_PID: str(dead.pid), LABEL_CREATE_TIME: repr(dead.created), LABEL_HOST: dead.host}
    made = {
        "dead": _docker_create(registry.labels()),
        "live owner": _docker_create({**registry.labels(), LABEL_PID: str(me.pid),
                                      LABEL_CREATE_TIME: repr(me.created)}),
        "other host": _docker_create({**registry.labels(), LABEL_HOST: "another-host"}),
        "other run": _docker_create({LABEL_TOKEN: uuid.uuid4().hex[:16], **owner_labels}),
    }
    try:
        registry.add({"type": "container", "alias": "b", "image": IMAGE, "id": None})  # killed before start()

        removed, failed = Registry(tmp_path / "registry").clean()

        assert failed == []
        assert removed == [f"container labelled {LABEL_TOKEN}={registry.token} (being started) of alias 'b', "
                           f"left by pid {dead.pid}"]
        assert {name: _container_exists(cid) for name, cid in made.items()} == {
            "dead": False, "live owner": True, "other host": True, "other run": True}
    finally:
        subprocess.run(["docker", "rm", "-f", *made.values()], capture_output=True)


# -- leftover databases whose removal fails, or needs force --------------------------------------------------------


def _database_record(registry_dir: Path, owner: Owner, name: str, port: int, token: str) -> Path:
    registry_dir.mkdir(exist_ok=True)
    path = registry_dir / f"{owner.pid}-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps({
        "version": 2, "type": "database", "state": "made", "alias": "b", "name": name, "token": token,
        "settings": {"ENGINE": "django.db.backends.postgresql", "HOST": PG["host"], "PORT": str(port),
                     "USER": PG["user"]},
        "owner_pid": owner.pid, "owner_create_time": owner.created, "owner_host": owner.host, "created": time.time(),
    }))
    return path


@pytest.mark.servers
def test_a_leftover_database_that_cannot_be_dropped_keeps_its_record_and_says_why(inner, servers, dead, tmp_path):
    import psycopg

    registry = tmp_path / "registry"
    token = uuid.uuid4().hex[:16]
    stamp = f"pytest-multidb {token}"
    busy, template = f"multidb_busy_{token[:8]}", f"multidb_istemplate_{token[:8]}"
    port = servers.closed_port()
    for name in (busy, template):
        servers.pg(f'CREATE DATABASE "{name}"')
        servers.pg(f"COMMENT ON DATABASE \"{name}\" IS '{stamp}'")
    servers.pg(f'ALTER DATABASE "{template}" IS_TEMPLATE true')  # PostgreSQL refuses to drop it
    unreachable = _database_record(registry, dead, "multidb_far_away", port, token)
    refused = _database_record(registry, dead, template, PG["port"], token)
    _database_record(registry, dead, busy, PG["port"], token)
    # A session still open on it, as the killed run's backend may be: DROP DATABASE ... WITH (FORCE) ends it.
    session = psycopg.connect(dbname=busy, autocommit=True, **PG)
    try:
        run = inner("--multidb-clean", env={"MULTIDB_REGISTRY": str(registry), "MULTIDB_SAMPLE_PG": "1"})

        out = run.out
        assert run.result.ret == 1, out + run.err
        assert f"multidb: removed database {busy!r} (postgresql {PG['host']}:{PG['port']}) of alias 'b'" in out
        could_not = [line for line in out.splitlines() if line.startswith("multidb: could not remove")]
        assert len(could_not) == 2, out
        assert could_not[0 if "far_away" in could_not[0] else 1].startswith(
            f"multidb: could not remove database 'multidb_far_away' (postgresql {PG['host']}:{port}) of alias 'b', "
            f"left by pid {dead.pid} (server unreachable at {PG['host']}:{port}: ")
        assert any(line.endswith("; retried next run)") and "cannot drop a template database" in line
                   and template in line for line in could_not), could_not
        assert "Traceback" not in out + run.err
        assert {p.name for p in registry.glob("*.json")} == {unreachable.name, refused.name}
        assert servers.pg(f"SELECT 1 FROM pg_database WHERE datname = '{template}'") == [(1,)]
        assert servers.pg(f"SELECT 1 FROM pg_database WHERE datname = '{busy}'") == []
    finally:
        session.close()
        servers.pg(f'ALTER DATABASE "{template}" IS_TEMPLATE false')
        for name in (busy, template):
            servers.pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
