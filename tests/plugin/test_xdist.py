"""pytest-xdist: each worker provisions its own databases (sqlite, server and process kinds; the process kind's
server is one for the run, shared by the workers: ``test_xdist_shared.py``)."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.servers

SUITE = """
import json, os
import pytest
from sample_models.artists.models import Artist
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("a", "b", "c")
@pytest.mark.parametrize("n", range(8))
def test_isolated(n, multidb):
    assert (Artist.objects.count(), Widget.objects.count(), Category.objects.count()) == (0, 0, 0)
    Artist.objects.create(name=str(n))
    Widget.objects.create(code=str(n), weight=n)
    Category.objects.create(name=str(n))
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(f"used_{worker}.json", "w") as out:
        json.dump({alias: {"kind": info["kind"], "name": info["name"], "port": info["settings"].get("PORT")}
                   for alias, info in multidb.items()}, out)
"""


def test_each_worker_uses_its_own_databases(inner, pytester, servers):
    pytester.makepyfile(test_suite=SUITE)
    run = inner("-p", "xdist", "-n", "2", "--multidb-provision", "c=process", "-p", "no:cacheprovider",
                env={"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"})
    run.result.assert_outcomes(passed=8)
    used = {path.stem.removeprefix("used_"): json.loads(path.read_text()) for path in pytester.path.glob("used_*.json")}
    assert set(used) == {"gw0", "gw1"}, used
    for worker, aliases in used.items():
        assert {alias: info["kind"] for alias, info in aliases.items()} == {
            "a": "sqlite", "b": "server", "c": "process"}
        assert aliases["b"]["name"].endswith(f"_{worker}")  # server test database named per worker
        assert aliases["c"]["name"].endswith(f"_{worker}")
        assert f"popen-{worker}" in aliases["a"]["name"]      # sqlite file under the worker's own temp dir
    assert used["gw0"]["b"]["name"] != used["gw1"]["b"]["name"]
    assert used["gw0"]["c"]["port"] == used["gw1"]["c"]["port"]  # one MariaDB server process for both workers
    assert used["gw0"]["c"]["name"] != used["gw1"]["c"]["name"]  # each with its own database in it
    assert used["gw0"]["a"]["name"] != used["gw1"]["a"]["name"]
    # The controller shows every worker's provisioning lines (one per alias and worker; other summary lines, such
    # as a fallback cache directory of a gone checkout dropped, may come and go), and nothing is left on the servers.
    provisioned = [line for line in run.result.stdout.lines if re.match(r"\[gw[01]\] multidb: [abc]: ", line)]
    assert len(provisioned) == 6, provisioned
    assert "multidb: stopped the shared process of alias 'c'" in run.result.stdout.str()
    made = {used[worker]["b"]["name"] for worker in used}
    assert not {f"pg:{name}" for name in made} & servers.databases()  # (other sessions' databases come and go)
