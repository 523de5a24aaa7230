"""The sample project's real server databases, with sentinel rows to check afterwards (the ``real`` fixture):
a test proves that nothing of a run touched them."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock


class RealDatabases:
    """The sample's real server databases, with sentinel rows to check afterwards."""

    def __init__(self, servers) -> None:
        self.servers = servers
        self.sentinel = f"multidb_sentinel_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []
        self.tables = {"pg": [self.sentinel], "maria": [self.sentinel]}

    def setup(self) -> None:
        s, pg_real, maria_real = self.servers, self.servers.pg_real, self.servers.maria_real
        if not s.pg(f"SELECT 1 FROM pg_database WHERE datname = '{pg_real}'"):
            s.pg(f'CREATE DATABASE "{pg_real}"')
            self.created.append("pg")
            s.pg("CREATE TABLE widgets_widget (id serial PRIMARY KEY, code varchar(10) UNIQUE, weight int)", pg_real)
            s.pg("INSERT INTO widgets_widget (code, weight) VALUES ('real', 7)", pg_real)
            self.tables["pg"].append("widgets_widget")
        s.pg(f"CREATE TABLE {self.sentinel} (id int PRIMARY KEY, note text)", pg_real)
        s.pg(f"INSERT INTO {self.sentinel} VALUES (1, 'keep me')", pg_real)
        if not s.maria(f"SHOW DATABASES LIKE '{maria_real}'"):
            s.maria(f"CREATE DATABASE `{maria_real}`")
            self.created.append("maria")
            s.maria("CREATE TABLE cycles_category (id int AUTO_INCREMENT PRIMARY KEY, name varchar(100), "
                    "parent_id int NULL)", maria_real)
            s.maria("INSERT INTO cycles_category (name) VALUES ('real')", maria_real)
            self.tables["maria"].append("cycles_category")
        s.maria(f"CREATE TABLE {self.sentinel} (id int PRIMARY KEY, note text)", maria_real)
        s.maria(f"INSERT INTO {self.sentinel} VALUES (1, 'keep me')", maria_real)

    def contents(self) -> dict[str, list[tuple]]:
        s = self.servers
        found = {}
        for table in self.tables["pg"]:
            found[f"pg:{table}"] = s.pg(f"SELECT * FROM {table} ORDER BY 1", s.pg_real)
        for table in self.tables["maria"]:
            found[f"maria:{table}"] = s.maria(f"SELECT * FROM {table} ORDER BY 1", s.maria_real)
        return found

    def teardown(self) -> None:
        s = self.servers
        if "pg" in self.created:
            s.pg(f'DROP DATABASE IF EXISTS "{s.pg_real}"')
        else:
            s.pg(f"DROP TABLE IF EXISTS {self.sentinel}", s.pg_real)
        if "maria" in self.created:
            s.maria(f"DROP DATABASE IF EXISTS `{s.maria_real}`")
        else:
            s.maria(f"DROP TABLE IF EXISTS {self.sentinel}", s.maria_real)


@pytest.fixture
def real(servers) -> Iterator[RealDatabases]:
    if not (servers.pg_up and servers.maria_up):
        pytest.skip("needs both the PostgreSQL and the MariaDB server")
    # One user of the real databases at a time on this machine (this suite may run in several processes at once).
    with FileLock(Path(tempfile.gettempdir()) / "multidb-tests-real-databases.lock"):
        databases = RealDatabases(servers)
        try:
            databases.setup()
            yield databases
        finally:
            databases.teardown()
