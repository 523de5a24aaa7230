"""Smoke test of the locally built database images, through testcontainers.

    bash .ci/docker.sh                       # engine + images
    .venv/bin/python tests/images/smoke.py   # [--poll SECONDS]

Starts PostgresContainer("multidb-test/postgres:15") and
MySqlContainer("multidb-test/mariadb:10.11") one after the other, connects to
each from this process with psycopg / MySQLdb through the published port, runs
SELECT 1, checks that the answer came from that container (not from a server of
the host on the same default port), stops it, and prints how long each step
took. Then checks that no container of this testcontainers session is left, and
shows how testcontainers fails when DOCKER_HOST points at a dead socket.

Exit status 0 when everything worked. Not a pytest file on purpose.

Notes for the plugin (each seen on this machine):
* Ryuk (the reaper container) can't be pulled here: TESTCONTAINERS_RYUK_DISABLED
  must be true, so containers are only removed by .stop() -- always stop them.
* This VM has a /.dockerenv file, so testcontainers believes it runs inside a
  container and connects to the bridge gateway (172.17.0.1), where nothing
  listens: .ci/docker.sh publishes ports on 127.0.0.1 only. Hence
  TESTCONTAINERS_CONNECTION_MODE=docker_host (connect to the Docker host, on
  the mapped port) and TC_HOST=127.0.0.1 (instead of "localhost").
* Without TC_HOST, get_container_host_ip() answers "localhost", and
  libmysqlclient (MySQLdb) treats host "localhost" as "use the Unix socket",
  ignoring the port: that reaches the machine's own MariaDB, silently.
* Wait strategies poll every TC_POOLING_INTERVAL seconds (default 1): --poll 0.1
  (testcontainers_config.sleep_time) shortens each start by up to a second.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings

# Read by testcontainers at import time, so set before importing it (see Notes).
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
os.environ.setdefault("TC_HOST", "127.0.0.1")
warnings.filterwarnings("ignore", category=DeprecationWarning)

try:  # testcontainers >= 4.14 moved the modules under "community"
    from testcontainers.community.mysql import MySqlContainer
    from testcontainers.community.postgres import PostgresContainer
except ImportError:  # pragma: no cover - older testcontainers
    from testcontainers.mysql import MySqlContainer
    from testcontainers.postgres import PostgresContainer
from testcontainers.core.config import testcontainers_config  # noqa: E402
from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID  # noqa: E402

POSTGRES_IMAGE = "multidb-test/postgres:15"
MARIADB_IMAGE = "multidb-test/mariadb:10.11"


def tcp_host(container) -> str:
    host = container.get_container_host_ip()
    return "127.0.0.1" if host == "localhost" else host


def check_postgres() -> dict[str, float]:
    import psycopg

    times = {}
    t = time.monotonic()
    pg = PostgresContainer(POSTGRES_IMAGE, username="smoke", password="sm'oke pw", dbname="smoke_db", driver=None)
    pg.start()
    times["start"] = time.monotonic() - t
    try:
        host, port = pg.get_container_host_ip(), pg.get_exposed_port(5432)
        t = time.monotonic()
        with psycopg.connect(
            host=host, port=port, user=pg.username, password=pg.password, dbname=pg.dbname, connect_timeout=10
        ) as conn:
            one, db, user, server_addr, version = conn.execute(
                "SELECT 1, current_database(), current_user, inet_server_addr()::text, version()"
            ).fetchone()
        times["connect+query"] = time.monotonic() - t
        assert one == 1, one
        assert (db, user) == ("smoke_db", "smoke"), (db, user)
        # The server answered from inside a container (bridge address), not the host's 127.0.0.1:5432 one.
        assert server_addr and not server_addr.startswith("127."), server_addr
        print(f"  postgres: {host}:{port} -> SELECT 1 = {one}; db={db} user={user} server={server_addr}")
        print(f"  postgres: {version.split(' on ')[0]}")
    finally:
        t = time.monotonic()
        pg.stop()
        times["stop"] = time.monotonic() - t
    return times


def check_mariadb() -> dict[str, float]:
    import MySQLdb

    times = {}
    t = time.monotonic()
    my = MySqlContainer(MARIADB_IMAGE, username="smoke", password="sm'oke pw", root_password="r00t", dbname="smoke_db")
    my.start()
    times["start"] = time.monotonic() - t
    try:
        host, port = tcp_host(my), my.get_exposed_port(3306)
        t = time.monotonic()
        conn = MySQLdb.connect(
            host=host, port=port, user=my.username, password=my.password, database=my.dbname, connect_timeout=10
        )
        try:
            cur = conn.cursor()
            cur.execute("SELECT 1, DATABASE(), CURRENT_USER(), @@hostname, VERSION()")
            one, db, user, hostname, version = cur.fetchone()
        finally:
            conn.close()
        times["connect+query"] = time.monotonic() - t
        assert one == 1, one
        assert (db, user) == ("smoke_db", "smoke@%"), (db, user)
        # Docker names the container's host after its id: proves it's the container's server.
        container_id = my.get_wrapped_container().id
        assert container_id.startswith(hostname), (hostname, container_id)
        print(f"  mariadb: {host}:{port} -> SELECT 1 = {one}; db={db} user={user} server host={hostname}")
        print(f"  mariadb: {version}")
        root = MySQLdb.connect(host=host, port=port, user="root", password="r00t", connect_timeout=10)
        root.close()
    finally:
        t = time.monotonic()
        my.stop()
        times["stop"] = time.monotonic() - t
    return times


def leftovers() -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL_SESSION_ID}={SESSION_ID}", "--format", "{{.ID}} {{.Image}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


DEAD_SOCKET_PROBE = """
import os, time, warnings
warnings.filterwarnings("ignore", category=DeprecationWarning)
try:
    from testcontainers.community.postgres import PostgresContainer
except ImportError:
    from testcontainers.postgres import PostgresContainer
t = time.monotonic()
try:
    PostgresContainer("multidb-test/postgres:15").start()
except Exception as e:
    t = time.monotonic() - t
    print(f"{type(e).__module__}.{type(e).__qualname__} after {t:.2f}s (raised by the constructor): {e}")
    print(f"  __cause__: {type(e.__cause__).__module__}.{type(e.__cause__).__qualname__}")
else:
    raise SystemExit("unexpected: started a container through a dead DOCKER_HOST")
"""


def dead_socket() -> str:
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock", TESTCONTAINERS_RYUK_DISABLED="true")
    proc = subprocess.run(
        [sys.executable, "-c", DEAD_SOCKET_PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout + proc.stderr)
    return proc.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poll", type=float, help="testcontainers poll interval, s (default 1 or TC_POOLING_INTERVAL)")
    args = parser.parse_args()
    if args.poll is not None:
        testcontainers_config.sleep_time = args.poll
    cfg = testcontainers_config
    print(f"testcontainers poll interval {cfg.sleep_time}s, ryuk disabled={cfg.ryuk_disabled}")

    failed = False
    for name, check in (("postgres", check_postgres), ("mariadb", check_mariadb)):
        t = time.monotonic()
        try:
            times = check()
        except Exception as e:
            failed = True
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            continue
        detail = ", ".join(f"{k} {v:.2f}s" for k, v in times.items())
        print(f"ok   {name}: {detail} (total {time.monotonic() - t:.2f}s)")

    left = leftovers()
    if left:
        failed = True
        print(f"FAIL leftovers: containers of this session still exist: {left}")
    else:
        print("ok   no container of this session left (docker ps -a)")

    try:
        print(f"ok   dead DOCKER_HOST: {dead_socket()}")
    except Exception as e:
        failed = True
        print(f"FAIL dead DOCKER_HOST probe: {e}")

    print("smoke: FAILED" if failed else "smoke: all ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
