"""The PostgreSQL and MariaDB servers of the suite ($MULTIDB_PG_HOST, ...), queried directly (no Django in the
outer process), and the backends a test runs the sample project on.

The sample project (``sample_models.settings``): alias ``a`` is sqlite; ``b`` is sqlite or PostgreSQL (``pg=True``);
``c`` is sqlite or MariaDB (``maria=True``). Its real PostgreSQL / MariaDB databases are ``multidb_sample_widgets`` /
``multidb_sample_cycles``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import pytest

PG = {"host": os.environ.get("MULTIDB_PG_HOST", "127.0.0.1"), "port": int(os.environ.get("MULTIDB_PG_PORT", "5432")),
      "user": os.environ.get("MULTIDB_PG_USER", "postgres")}
MARIA = {"host": os.environ.get("MULTIDB_MARIA_HOST", "127.0.0.1"),
         "port": int(os.environ.get("MULTIDB_MARIA_PORT", "3306")),
         "user": os.environ.get("MULTIDB_MARIA_USER", "root")}
PG_REAL = "multidb_sample_widgets"
MARIA_REAL = "multidb_sample_cycles"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


PG_UP = _reachable(PG["host"], PG["port"])
MARIA_UP = _reachable(MARIA["host"], MARIA["port"])
needs_pg = pytest.mark.skipif(not PG_UP, reason=f"no PostgreSQL server at {PG['host']}:{PG['port']}")
needs_maria = pytest.mark.skipif(not MARIA_UP, reason=f"no MariaDB server at {MARIA['host']}:{MARIA['port']}")


@dataclass(frozen=True)
class Backend:
    """One way to run the sample project: which server (if any) hosts ``SERVER``."""

    name: str
    pg: bool = False
    maria: bool = False

    @property
    def alias(self) -> str:
        return "c" if self.maria else "b"

    @property
    def vendor(self) -> str:
        return "postgresql" if self.pg else "mysql" if self.maria else "sqlite"


SQLITE, POSTGRES, MARIADB = Backend("sqlite"), Backend("pg", pg=True), Backend("maria", maria=True)
BACKENDS = [
    pytest.param(SQLITE, id="sqlite"),
    pytest.param(POSTGRES, id="pg", marks=[pytest.mark.servers, needs_pg]),
    pytest.param(MARIADB, id="maria", marks=[pytest.mark.servers, needs_maria]),
]


BY_NAME = {b.name: b for b in (SQLITE, POSTGRES, MARIADB)}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """sqlite, PostgreSQL and MariaDB in turn; ``parametrize("backend", ["pg"], indirect=True)`` picks some.

    A server backend is skipped when its server is not reachable.
    """
    chosen = request.param if isinstance(request.param, Backend) else BY_NAME[request.param]
    if chosen.pg and not PG_UP:
        pytest.skip(f"no PostgreSQL server at {PG['host']}:{PG['port']}")
    if chosen.maria and not MARIA_UP:
        pytest.skip(f"no MariaDB server at {MARIA['host']}:{MARIA['port']}")
    return chosen


# -- direct access to the servers (no Django in the outer process) ----------------------------------------------


def pg_query(sql: str, dbname: str = "postgres") -> list[tuple]:
    import psycopg

    with psycopg.connect(dbname=dbname, autocommit=True, **PG) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def maria_query(sql: str, db: str | None = None) -> list[tuple]:
    import MySQLdb

    conn = MySQLdb.connect(**MARIA, **({"database": db} if db else {}))
    try:
        cur = conn.cursor()
        cur.execute(sql)
        rows = list(cur.fetchall()) if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


def server_databases() -> set[str]:
    """Every database name on the reachable servers, prefixed ``pg:`` / ``maria:``."""
    names = set()
    if PG_UP:
        names |= {f"pg:{n}" for (n,) in pg_query("SELECT datname FROM pg_database")}
    if MARIA_UP:
        names |= {f"maria:{n}" for (n,) in maria_query("SHOW DATABASES")}
    return names


class Servers:
    """The PostgreSQL and MariaDB servers, queried directly (no Django in the outer process)."""

    pg_up, maria_up = PG_UP, MARIA_UP
    pg_real, maria_real = PG_REAL, MARIA_REAL
    pg_port, maria_port = PG["port"], MARIA["port"]
    pg = staticmethod(pg_query)
    maria = staticmethod(maria_query)
    databases = staticmethod(server_databases)

    @staticmethod
    def closed_port() -> int:
        """A loopback port nothing listens on."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]


@pytest.fixture
def servers() -> type[Servers]:
    return Servers
