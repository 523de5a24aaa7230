"""Faults during and after a test: every teardown step runs, a broken connection is replaced, a dead server is
one line and its alias's later tests fail fast.

The faults are real: the database server ends the test's connection (``pg_terminate_backend``, MariaDB's
``KILL``; on sqlite, where no server exists, the connection handle is closed under Django), and a throwaway
server process or container is killed with SIGKILL in the middle of a test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_multidb.provision.process import PostgresProcess
from pytest_multidb.provision.registry import Registry
from tests.support.containers import DOCKER_ENV, IMAGES

TERMINATE = '''
from django.db import connections


def terminate(alias):
    """End the test's own connection of ``alias`` from outside, as a DBA's kill or a failover would."""
    conn = connections[alias]
    conn.ensure_connection()
    if conn.vendor == "sqlite":  # no server to end it: close the handle under Django's feet
        conn.connection.close()
        return
    other = connections.create_connection(alias)
    try:
        with other.cursor() as cursor:
            if conn.vendor == "postgresql":
                cursor.execute("SELECT pg_terminate_backend(%s)", [conn.connection.info.backend_pid])
            else:
                cursor.execute(f"KILL {conn.connection.thread_id()}")
    finally:
        other.close()
'''

BROKEN_SUITE = '''
import pytest
from inner_helpers import SERVER, add, count, committed
from sample_models.artists.models import Artist
from terminate import terminate


@pytest.mark.uses_db("a", SERVER, transaction=[SERVER])
def test_1_committing_alias_broken_after_a_swap(swap_db):
    add(SERVER, "kept")
    Artist.objects.create(name="rolled back on a")
    swap_db(Artist, SERVER)
    Artist.objects.create(name="moved")
    terminate(SERVER)


@pytest.mark.uses_db("a", SERVER)
def test_2_everything_was_put_back():
    assert Artist.objects.db == "a"  # the swap was undone
    assert Artist.objects.count() == 0  # 'a' was rolled back
    assert count(SERVER) == 0 and committed(SERVER) == 0  # what test 1 committed was emptied
    add(SERVER, "works")


@pytest.mark.uses_db(SERVER)
def test_3_rollback_alias_broken():
    add(SERVER, "lost")
    terminate(SERVER)


@pytest.mark.uses_db(SERVER, transaction=True)
def test_4_still_clean_and_working():
    assert committed(SERVER) == 0
    add(SERVER, "kept")
    assert committed(SERVER) == 1
'''


def test_broken_connection_on_a_committing_alias_after_a_swap(inner, pytester, backend, real):
    before = real.contents()
    pytester.makepyfile(terminate=TERMINATE, test_broken=BROKEN_SUITE)
    run = inner("-v", backend=backend)
    run.result.assert_outcomes(passed=4)
    assert "Traceback" not in run.out + run.err
    assert real.contents() == before
    assert run.leftovers() == set()
    assert list(inner.real_dir.iterdir()) == []


DYING_SUITE = '''
import contextlib
import os
import signal

import docker
import psutil
import pytest
from sample_models.artists.models import Artist
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("a", "b")
def test_1_server_dies(multidb):
    Widget.objects.create(code="w", weight=1)
    details = multidb["b"]
    if details["kind"] in ("process", "server"):  # the server and its backends, as an OOM kill or a crash would
        server = psutil.Process(details.get("pid") or int(os.environ["INNER_SERVER_PID"]))
        backends = server.children(recursive=True)
        server.send_signal(signal.SIGKILL)
        for process in backends:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs([server, *backends], timeout=10)
    else:
        docker.from_env().containers.get(details["container"]).kill()
    Widget.objects.count()


@pytest.mark.uses_db("b")
@pytest.mark.parametrize("n", range(2))
def test_2_later_tests_of_the_alias(n):
    Widget.objects.count()


@pytest.mark.uses_db("a")
def test_3_other_aliases_still_work():
    Artist.objects.create(name="fine")
    assert Artist.objects.count() == 1
'''


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[PostgresProcess]:
    """A PostgreSQL server of the test's own, to be the configured server of a ``server`` alias and be killed
    (the machine's shared servers cannot be)."""
    server = PostgresProcess("b", tmp_path / "own-postgresql.log", Registry(tmp_path / "own-registry"))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.servers
@pytest.mark.parametrize("kind", ["server", "process", "container"])
def test_server_killed_mid_run(inner, pytester, kind, real, request):
    before = real.contents()
    pytester.makepyfile(test_dying=DYING_SUITE)
    env = {**IMAGES, **DOCKER_ENV, "MULTIDB_REGISTRY": str(pytester.path / "registry")}
    if kind == "server":
        server = request.getfixturevalue("own_server")
        env.update(MULTIDB_PG_PORT=str(server.port), INNER_SERVER_PID=str(server.pid))
    run = inner("--multidb-provision", f"b={kind}", "-p", "no:cacheprovider", backend=_pg(), env=env)
    # The test that meets the dead server fails, the later ones of 'b' error in setup; the one of 'a' passes. A
    # server kind's test database cannot be dropped at the end: one more line, and its record is kept.
    run.result.assert_outcomes(passed=1, failed=1, errors=3 if kind == "server" else 2)
    text = run.out + run.err
    records = list((pytester.path / "registry").glob("*.json"))
    if kind == "server":
        assert "multidb: could not remove the test database of 'b': server unreachable at 127.0.0.1:" in text
        assert len(records) == 1  # kept, to be removed by a later run once the server is back
    else:
        assert records == []
    line = re.compile(rf"^multidb: test_dying\.py::(?P<test>test_[12]\w*(\[\d\])?): alias 'b': its database server "
                      rf"\({kind}, 127\.0\.0\.1:\d+\) stopped answering \(.+\); (see its log \S+-postgresql\.log|"
                      r"see `docker logs \w+`|check that the server runs)\. Every later test that uses 'b' fails with "
                      r"this line\.$")
    reported = [match["test"] for match in map(line.match, text.splitlines()) if match]
    assert sorted(reported) == ["test_1_server_dies", "test_2_later_tests_of_the_alias[0]",
                        "test_2_later_tests_of_the_alias[1]"], text  # one line each
    assert "Traceback" not in text
    assert "psycopg" not in text  # no driver traceback
    assert len(text.splitlines()) < 60, text
    assert real.contents() == before
    assert run.leftovers() == set()


def _pg():
    from tests.support.servers import POSTGRES

    return POSTGRES


IMPORT_TIME_WRITE = '''
from inner_helpers import SERVER, add

add(SERVER, "importing")
'''


@pytest.mark.parametrize("where", ["conftest", "test module"])
def test_write_at_import_time_is_blocked(inner, pytester, backend, real, where):
    before = real.contents()
    if where == "conftest":
        pytester.makeconftest(IMPORT_TIME_WRITE)
        pytester.makepyfile(test_x="def test_x():\n    pass\n")
    else:
        pytester.makepyfile(test_x=IMPORT_TIME_WRITE + "\n\ndef test_x():\n    pass\n")
    run = inner(backend=backend)
    assert run.result.ret != pytest.ExitCode.OK
    text = run.out + run.err
    message = (f"DatabaseAccessError: code outside a test (a conftest, a module imported at collection, a session "
               f"fixture) touched database alias '{backend.alias}' without declaring any database.")
    # Once in the error's report (the short summary repeats it in full when pytest sees CI=true).
    assert len([line for line in text.splitlines() if line.startswith("E ") and message in line]) == 1, text
    assert real.contents() == before  # nothing reached the real PostgreSQL or MariaDB database
    assert list(inner.real_dir.iterdir()) == []  # nor a real sqlite file
