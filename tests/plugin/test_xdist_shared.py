"""pytest-xdist with the ``process`` and ``container`` kinds: one server / container per alias for the whole run,
shared by every worker, each worker with its own test database in it; all stopped at the run's end."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.containers import DOCKER_ENV, IMAGES

pytestmark = pytest.mark.servers

#: Every test records what it used, and counts the database servers the run has running right now: server
#: processes (children of the xdist workers, which are the controller's children) and containers labelled with
#: the controller's pid.
SUITE = """
import json, os, subprocess
import psutil
import pytest
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


def name_of(process):
    try:
        return process.name()
    except psutil.Error:  # ended while it was looked at (a worker's short-lived helper process)
        return None


def running_servers():
    controller = psutil.Process(os.getppid())
    processes = [child.pid for worker in controller.children() for child in worker.children()
                 if name_of(child) in ("postgres", "mariadbd")]
    containers = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=pytest-multidb.owner-pid={controller.pid}"],
                                capture_output=True, text=True, check=True).stdout.split()
    return processes, containers


@pytest.mark.uses_db("b", "c")
@pytest.mark.parametrize("n", range(12))
def test_isolated(n, multidb):
    from django.db import connections

    assert (Widget.objects.count(), Category.objects.count()) == (0, 0)
    Widget.objects.create(code=str(n), weight=n)
    Category.objects.create(name=str(n))
    processes, containers = running_servers()
    with open(f"used_{n}.json", "w") as out:
        json.dump({"worker": os.environ["PYTEST_XDIST_WORKER"], "controller": os.getppid(),
                   "processes": processes, "containers": containers,
                   "b": {"name": connections["b"].settings_dict["NAME"], "pid": multidb["b"]["pid"],
                         "port": multidb["b"]["port"], "schema": multidb["b"]["schema"]},
                   "c": {"name": connections["c"].settings_dict["NAME"], "container": multidb["c"]["container"]}},
                  out)
"""


def _containers(label: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"], capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def test_one_server_and_one_container_per_alias_for_all_workers(inner, pytester):
    pytester.makepyfile(test_suite=SUITE)
    run = inner("-p", "xdist", "-n", "4", "--multidb-provision", "b=process", "--multidb-provision", "c=container",
                env={"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1", **IMAGES, **DOCKER_ENV}, timeout=300)
    run.result.assert_outcomes(passed=12)
    used = [json.loads(path.read_text()) for path in sorted(pytester.path.glob("used_*.json"))]
    workers = {entry["worker"] for entry in used}
    assert len(workers) == 4, workers
    # Exactly one server process and one container, all the time, for all four workers:
    assert {len(entry["processes"]) for entry in used} == {1}, used
    assert {len(entry["containers"]) for entry in used} == {1}, used
    assert len({entry["b"]["pid"] for entry in used}) == len({entry["b"]["port"] for entry in used}) == 1
    assert len({entry["c"]["container"] for entry in used}) == 1
    assert {entry["processes"][0] for entry in used} == {used[0]["b"]["pid"]}
    # ... each worker with its own test database in them, named after it:
    for alias in "bc":
        names = {entry["worker"]: entry[alias]["name"] for entry in used}
        assert len(set(names.values())) == 4, names
        assert all(name.endswith(f"_{worker}") for worker, name in names.items()), names
    # The schema is built once (the PostgreSQL template on the shared server) and cloned by the other workers.
    schemas = {}
    for entry in used:
        schemas[entry["worker"]] = entry["b"]["schema"]
    assert sorted(schemas.values()) == ["built", "cached", "cached", "cached"], schemas
    # The run's end stopped both: no server process, no container, no record is left.
    assert "multidb: stopped the shared process of alias 'b'" in run.out
    assert "multidb: stopped the shared container of alias 'c'" in run.out
    pid = used[0]["b"]["pid"]
    assert not _alive(pid)
    assert {entry["controller"] for entry in used} == {used[0]["controller"]}
    assert _containers(f"pytest-multidb.owner-pid={used[0]['controller']}") == []
    assert list((pytester.path / "registry").glob("*.json")) == []


def test_without_xdist_each_run_keeps_its_own_server(inner, pytester):
    """``-p no:xdist`` (and plain runs): nothing shared, the server belongs to the run, as before."""
    pytester.makepyfile(test_suite=SUITE.replace("range(12)", "range(2)").replace(
        'os.environ["PYTEST_XDIST_WORKER"]', '"main"'))
    run = inner("-p", "no:xdist", "--multidb-provision", "b=process", "--multidb-provision", "c=container",
                env={"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1", **IMAGES, **DOCKER_ENV}, timeout=300)
    run.result.assert_outcomes(passed=2)
    used = [json.loads(path.read_text()) for path in sorted(pytester.path.glob("used_*.json"))]
    assert {entry["b"]["schema"] for entry in used} == {"built"}
    assert "stopped the shared" not in run.out
    assert _containers(f"pytest-multidb.owner-pid={run.pid}") == []


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
