"""The locally built images (``tests/images/``, built by ``.ci/docker.sh``) serve the container kind: every query
of a container alias is answered by the server inside its container, never by the host's server.

The host runs PostgreSQL 15 and MariaDB 10.11 on the default ports, the same versions as the images: only the
server's own address (PostgreSQL) and host name (MariaDB: the container id) tell them apart. Replaces the
former ``tests/images/smoke.py``, which the test command never ran.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.servers

IMAGES = {"MULTIDB_PG_IMAGE": "multidb-test/postgres:15", "MULTIDB_MARIA_IMAGE": "multidb-test/mariadb:10.11"}
# This machine has /.dockerenv: reach published ports on the Docker host. No TC_HOST: testcontainers then says
# "localhost", which MySQLdb would take for the host's own server (its Unix socket); the plugin must not.
DOCKER_ENV = {"TESTCONTAINERS_CONNECTION_MODE": "docker_host"}

ANSWERS = """
import json
import pytest
from django.db import connections


@pytest.mark.uses_db("b", "c")
def test_who_answers(multidb):
    with connections["b"].cursor() as cursor:
        cursor.execute("SELECT inet_server_addr()::text, current_database(), current_user, version()")
        b = cursor.fetchone()
    with connections["c"].cursor() as cursor:
        cursor.execute("SELECT @@hostname, DATABASE(), VERSION()")
        c = cursor.fetchone()
    with open("answers.json", "w") as out:
        json.dump({"b": b, "c": c, "info": {a: {k: multidb[a][k] for k in ("kind", "image", "container", "name")}
                                            for a in "bc"}}, out)
"""


def test_container_aliases_are_answered_inside_their_containers(inner, pytester):
    pytester.makepyfile(test_answers=ANSWERS)
    run = inner("--multidb-provision", "b=container", "--multidb-provision", "c=container", "-p", "no:cacheprovider",
                env={"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1", **IMAGES, **DOCKER_ENV})
    run.result.assert_outcomes(passed=1)
    answers = json.loads((pytester.path / "answers.json").read_text())
    info = answers["info"]
    assert (info["b"]["kind"], info["b"]["image"]) == ("container", IMAGES["MULTIDB_PG_IMAGE"])
    assert (info["c"]["kind"], info["c"]["image"]) == ("container", IMAGES["MULTIDB_MARIA_IMAGE"])

    address, database, user, version = answers["b"]
    assert address is not None and not address.startswith("127."), address  # the container's bridge address
    assert (database, user) == (info["b"]["name"], "multidb")
    assert version.startswith("PostgreSQL 15."), version

    hostname, database, version = answers["c"]
    assert hostname == info["c"]["container"], (hostname, info["c"])  # Docker names the host after the container
    assert database == info["c"]["name"]
    assert "10.11." in version and "MariaDB" in version, version
