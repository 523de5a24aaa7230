"""The container kind against a Docker engine reached through ``DOCKER_HOST=tcp://127.0.0.1:PORT``: a second
``dockerd`` of its own (``.ci/docker.sh`` starts it, with the test images loaded), not the default socket's.

The database is reached through the engine's host (testcontainers' ``get_container_host_ip()``: the host of
``DOCKER_HOST``, no ``TC_HOST`` override here), and the containers are removed through that engine: at the end of
the session, and after a ``kill -9`` by the next run, even one that has no ``DOCKER_HOST`` (the record names it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pytest_multidb.provision.registry import Registry
from tests.support.containers import IMAGES
from tests.support.projects import ROOT

pytestmark = pytest.mark.servers

REMOTE = f"tcp://127.0.0.1:{os.environ.get('MULTIDB_REMOTE_DOCKER_PORT', '23750')}"
LOCAL = "unix:///var/run/docker.sock"
#: This machine has /.dockerenv: without the mode, testcontainers would look for the container's gateway.
REMOTE_ENV = {"DOCKER_HOST": REMOTE, "TESTCONTAINERS_CONNECTION_MODE": "docker_host", **IMAGES}

SUITE = """
import json, os, subprocess, time
import pytest
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


def ids(engine):
    return subprocess.run(["docker", "-H", engine, "ps", "-q", "--no-trunc"], capture_output=True, text=True,
                          check=True).stdout.split()


@pytest.mark.uses_db("b", "c")
@pytest.mark.parametrize("n", range(2))
def test_in_containers(n, multidb):
    assert (Widget.objects.count(), Category.objects.count()) == (0, 0)
    Widget.objects.create(code=str(n), weight=n)
    Category.objects.create(name=str(n))
    with open("used.json", "w") as out:
        json.dump({"containers": {alias: multidb[alias]["container"] for alias in "bc"},
                   "hosts": {alias: multidb[alias]["settings"]["HOST"] for alias in "bc"},
                   "remote": ids(os.environ["REMOTE"]), "local": ids(os.environ["LOCAL"])}, out)
    if os.environ.get("PAUSE"):
        open("paused", "w").close()
        time.sleep(600)
"""

QUICK = """
import pytest


@pytest.mark.uses_db("a")
def test_quick():
    pass
"""


def _ids(engine: str) -> list[str]:
    out = subprocess.run(["docker", "-H", engine, "ps", "-aq", "--no-trunc"], capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def _on(engine: str, short: str) -> bool:
    return any(cid.startswith(short) for cid in _ids(engine))


def test_containers_run_and_are_removed_on_the_engine_of_docker_host(inner, pytester):
    pytester.makepyfile(test_remote=SUITE)
    run = inner("--multidb-provision", "b=container", "--multidb-provision", "c=container", "-p", "no:cacheprovider",
                env={"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1", "REMOTE": REMOTE, "LOCAL": LOCAL,
                     **REMOTE_ENV}, timeout=300)
    run.result.assert_outcomes(passed=2)
    used = json.loads((pytester.path / "used.json").read_text())
    assert used["hosts"] == {"b": "127.0.0.1", "c": "127.0.0.1"}  # the host of DOCKER_HOST
    for short in used["containers"].values():
        assert any(cid.startswith(short) for cid in used["remote"]), used  # ran on the remote engine ...
        assert not any(cid.startswith(short) for cid in used["local"]), used  # ... not on the default one
        assert not _on(REMOTE, short)  # and were removed from it


def test_a_killed_runs_containers_are_removed_through_the_engine_its_record_names(pytester):
    pytester.makepyfile(test_remote=SUITE, test_quick=QUICK)
    registry = pytester.path / "registry"
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "DJANGO_SETTINGS_MODULE", "DOCKER_HOST")}
    env.update({"PYTHONPATH": str(ROOT), "MULTIDB_SAMPLE_DIR": str(pytester.path / "real"),
                "MULTIDB_REGISTRY": str(registry), "MULTIDB_SAMPLE_PG": "1", "REMOTE": REMOTE, "LOCAL": LOCAL})
    command = [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:randomly", "-p", "no:cacheprovider",
               "-p", "no:xdist", "--multidb-settings", "sample_models.settings"]
    log = pytester.path / "inner.log"
    with log.open("w") as out:
        killed = subprocess.Popen([*command, "--multidb-provision", "b=container", "--multidb-provision",
                                   "c=container", "-x", "test_remote.py"], cwd=pytester.path,
                                  env={**env, **REMOTE_ENV, "MULTIDB_SAMPLE_MARIA": "1", "PAUSE": "1"},
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not (pytester.path / "paused").exists():
            assert killed.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        containers = json.loads((pytester.path / "used.json").read_text())["containers"]
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert all(_on(REMOTE, short) for short in containers.values())

        # The next run has no DOCKER_HOST: the default engine is its own, the records name the remote one.
        done = subprocess.run([*command, "test_quick.py"], cwd=pytester.path, env=env, capture_output=True,
                              text=True, timeout=120)

        assert done.returncode == 0, done.stdout + done.stderr
        removed = sorted(line for line in done.stdout.splitlines() if line.startswith("multidb: removed leftover "))
        # One run's containers share its token: the first record's removal finds both by their label.
        assert len(removed) == 2 and "could not remove" not in done.stdout, done.stdout
        for alias, short in containers.items():
            [line] = [line for line in removed if f" {short[:12]} " in line]
            assert line in (
                f"multidb: removed leftover container {short[:12]} of alias {alias!r}, left by pid {killed.pid}",
                f"multidb: removed leftover record of container {short[:12]} of alias {alias!r}, left by pid "
                f"{killed.pid}: already gone"), done.stdout
        assert not any(_on(REMOTE, short) for short in containers.values())
        assert list(registry.glob("*.json")) == []
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait()
        Registry(registry).clean()
