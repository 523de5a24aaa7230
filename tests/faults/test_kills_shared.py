"""``kill -9`` under xdist with shared servers (``provision/xdist.py``): of a worker (the others keep using the
run's server and container, the run's end stops them) and of the controller (the next run removes them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from pytest_multidb.provision.registry import Registry
from tests.support.containers import DOCKER_ENV, IMAGES
from tests.support.projects import ROOT

pytestmark = pytest.mark.servers

#: Every test writes its worker's pid and the shared servers it uses; ``PAUSE=one``: the first test to get there
#: waits to be killed, the others go on; ``PAUSE=all``: every test waits for the release file.
SUITE = """
import json, os, time
from pathlib import Path
import pytest
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("b", "c")
@pytest.mark.parametrize("n", range(6))
def test_uses_shared(n, multidb):
    Widget.objects.create(code=str(n), weight=n)
    Category.objects.create(name=str(n))
    info = {"pid": os.getpid(), "controller": os.getppid(), "worker": os.environ["PYTEST_XDIST_WORKER"],
            "server": multidb["b"]["pid"], "directory": str(Path(multidb["b"]["data_dir"]).parent),
            "container": multidb["c"]["container"]}
    Path(f"ready_{n}.json").write_text(json.dumps(info))
    pause = os.environ["PAUSE"]
    if pause == "one":
        try:
            fd = os.open("victim.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return
        os.write(fd, json.dumps(info).encode())
        os.close(fd)
    while pause == "one" or not os.path.exists("release"):
        time.sleep(0.05)
"""

QUICK = """
import pytest


@pytest.mark.uses_db("a")
def test_quick():
    pass
"""

TIMEOUT = 120.0


def _env(pytester: pytest.Pytester, pause: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "DJANGO_SETTINGS_MODULE")}
    return {**env, "PYTHONPATH": str(ROOT), "MULTIDB_SAMPLE_DIR": str(pytester.path / "real"),
            "MULTIDB_REGISTRY": str(pytester.path / "registry"), "MULTIDB_CACHE_DIR": str(pytester.path / "cache"),
            "MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1", "PAUSE": pause, **IMAGES, **DOCKER_ENV}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:randomly", "-p", "no:cacheprovider",
            "--multidb-settings", "sample_models.settings", "--multidb-provision", "b=process",
            "--multidb-provision", "c=container", *args]


def _wait_for(path: Path, process: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists() or not path.read_text():
        assert process.poll() is None, f"the inner run ended early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"{path.name} never came:\n{log.read_text()}"
        time.sleep(0.05)
    return json.loads(path.read_text())


def _both_workers(directory: Path, process: subprocess.Popen, log: Path) -> list[dict]:
    """What the first test of each of the two workers wrote, once both are paused in a test."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = {}
        for path in directory.glob("ready_*.json"):
            with_text = path.read_text()
            if with_text:
                entry = json.loads(with_text)
                found[entry["pid"]] = entry
        if len(found) == 2:
            return list(found.values())
        assert process.poll() is None, f"the inner run ended early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"both workers never paused:\n{log.read_text()}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _containers(controller: int) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=pytest-multidb.owner-pid={controller}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def _gone(pids: list[int], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_killed_worker_leaves_the_shared_servers_to_the_others_and_the_run_stops_them(pytester):
    pytester.makepyfile(test_shared=SUITE)
    log = pytester.path / "inner.log"
    registry = pytester.path / "registry"
    with log.open("w") as out:
        inner = subprocess.Popen(_command("-p", "xdist", "-n", "2", "test_shared.py"), cwd=pytester.path,
                                 env=_env(pytester, "one"), stdout=out, stderr=subprocess.STDOUT)
    try:
        victim = _wait_for(pytester.path / "victim.json", inner, log)
        assert _alive(victim["server"]) and _containers(victim["controller"])
        os.kill(victim["pid"], signal.SIGKILL)
        inner.wait(TIMEOUT)
        output = log.read_text()
        # The killed worker's test crashed; every other test ran on, in the same server and container.
        assert "1 failed, 5 passed" in output, output
        used = [json.loads(path.read_text()) for path in pytester.path.glob("ready_*.json")]
        assert {(entry["server"], entry["container"]) for entry in used} == {(victim["server"], victim["container"])}
        assert {entry["pid"] for entry in used} - {victim["pid"]}, "no other worker ran"
        # The run's end stopped both, with the dead worker's test database inside.
        assert "multidb: stopped the shared process of alias 'b'" in output
        assert "multidb: stopped the shared container of alias 'c'" in output
        assert not _alive(victim["server"])
        assert not Path(victim["directory"]).exists()
        assert _containers(victim["controller"]) == []
        assert list(registry.glob("*.json")) == []
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.wait()
        Registry(registry).clean()


def test_a_killed_controller_leaves_nothing_after_the_next_run(pytester):
    pytester.makepyfile(test_shared=SUITE, test_quick=QUICK)
    log = pytester.path / "inner.log"
    registry = pytester.path / "registry"
    with log.open("w") as out:
        inner = subprocess.Popen(_command("-p", "xdist", "-n", "2", "test_shared.py"), cwd=pytester.path,
                                 env=_env(pytester, "all"), stdout=out, stderr=subprocess.STDOUT)
    workers: list[int] = []
    try:
        first, second = _both_workers(pytester.path, inner, log)
        workers = [first["pid"], second["pid"]]
        assert first["controller"] == inner.pid and first["pid"] != second["pid"]
        assert (first["server"], first["container"]) == (second["server"], second["container"])
        inner.send_signal(signal.SIGKILL)
        inner.wait()
        assert _gone(workers), "the xdist workers outlived their controller"
        assert _alive(first["server"]) and _containers(inner.pid)  # left behind, owned by a dead run

        done = subprocess.run(_command("-p", "no:xdist", "test_quick.py"), cwd=pytester.path,
                              env=_env(pytester, "all"), capture_output=True, text=True, timeout=TIMEOUT)

        assert done.returncode == 0, done.stdout + done.stderr
        removed = sorted(line for line in done.stdout.splitlines() if line.startswith("multidb: removed leftover "))
        assert removed == sorted([
            f"multidb: removed leftover container {first['container'][:12]} of alias 'c', left by pid "
            f"{inner.pid}",
            f"multidb: removed leftover server process {first['server']} ({first['directory']}) of alias 'b', "
            f"left by pid {inner.pid}",
        ]), done.stdout
        assert not _alive(first["server"])
        assert not Path(first["directory"]).exists()
        assert _containers(inner.pid) == []
        assert list(registry.glob("*.json")) == []
    finally:
        (pytester.path / "release").touch()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if inner.poll() is None:
            inner.kill()
            inner.wait()
        Registry(registry).clean()

