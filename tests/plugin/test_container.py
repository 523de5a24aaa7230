"""The container path, for real: testcontainers against the local Docker engine and locally built images.

``.ci/docker.sh`` installs and starts the engine and builds ``multidb-test/postgres:15`` and
``multidb-test/mariadb:10.11`` from Debian packages (no registry is reachable here); ``scripts/test`` runs it
before the suite.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.containers import DOCKER_ENV, IMAGES

pytestmark = pytest.mark.servers


ISOLATED = """
import json, os
import pytest
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("b", "c")
@pytest.mark.parametrize("n", range(3))
def test_isolated(n, multidb):
    assert (Widget.objects.count(), Category.objects.count()) == (0, 0)
    Widget.objects.create(code=f"w{n}", weight=n)
    Category.objects.create(name=f"c{n}")
    with open("provisioned.json", "w") as out:
        json.dump({alias: {k: multidb[alias][k] for k in ("kind", "container", "image")} for alias in "bc"}, out)


@pytest.mark.uses_db("b", "c", transaction=True)
def test_committing(multidb):
    assert (Widget.objects.count(), Category.objects.count()) == (0, 0)
    Widget.objects.create(code="kept", weight=1)
    Category.objects.create(name="kept")
"""


def _containers() -> set[str]:
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.ID}}"], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_isolated_tests_run_in_containers_which_are_gone_afterwards(inner, pytester, monkeypatch):
    pytester.makepyfile(test_inner=ISOLATED)
    run = inner("--multidb-provision", "b=container", "--multidb-provision", "c=container", "-p", "no:cacheprovider",
                env={"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1", **IMAGES, **DOCKER_ENV})
    run.result.assert_outcomes(passed=4)
    provisioned = json.loads((pytester.path / "provisioned.json").read_text())
    assert provisioned["b"]["kind"] == provisioned["c"]["kind"] == "container"
    assert provisioned["b"]["image"] == IMAGES["MULTIDB_PG_IMAGE"]
    assert provisioned["c"]["image"] == IMAGES["MULTIDB_MARIA_IMAGE"]
    summary = run.summary()
    assert summary["b"]["kind"] == summary["c"]["kind"] == "container"
    assert not any(cid.startswith((provisioned["b"]["container"], provisioned["c"]["container"]))
                   for cid in _containers())


def test_no_docker_engine_is_one_clear_error(inner, pytester, tmp_path):
    pytester.makepyfile(test_inner=ISOLATED)
    dead = f"unix://{tmp_path}/nothing-listens-here.sock"
    run = inner("--multidb-provision", "b=container", "-p", "no:cacheprovider",
                env={"MULTIDB_SAMPLE_PG": "1", "DOCKER_HOST": dead, **IMAGES, **DOCKER_ENV})
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    out = run.out + run.err
    assert "alias 'b' (TEST['PROVISION'] = 'container'): no Docker engine at " + dead in out
    assert "Fix: start Docker (dockerd) or point DOCKER_HOST at a running engine" in out
