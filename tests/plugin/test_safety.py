"""Acceptance point 6 (issue acceptance 3): the configured real databases are never touched.

Before the inner run the real databases of the sample (``multidb_sample_widgets`` on PostgreSQL,
``multidb_sample_cycles`` on MariaDB) get a sentinel table with one row (and, when this test created the
database, the sample's own table with a row too); afterwards every row must still be there, no test database
of the run may be left on the servers and no sqlite file may appear at the configured (real) paths.
"""

import fcntl
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

BOTH = {"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"}


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
    with (Path(tempfile.gettempdir()) / "multidb-tests-real-databases.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        databases = RealDatabases(servers)
        try:
            databases.setup()
            yield databases
        finally:
            databases.teardown()


SUITE = '''
    import pytest
    from django.db import connections
    from sample_models.artists.models import Artist
    from sample_models.cycles.models import Category
    from sample_models.widgets.models import Widget

    ALL = ("default", "a", "b", "c")


    @pytest.mark.parametrize("n", range(2))
    @pytest.mark.uses_db(*ALL)
    def test_rolled_back(n, swap_db):
        assert connections["b"].settings_dict["NAME"] != "multidb_sample_widgets"
        assert connections["c"].settings_dict["NAME"] != "multidb_sample_cycles"
        for alias in ALL:
            tables = connections[alias].introspection.table_names()
            assert not [t for t in tables if t.startswith("multidb_sentinel")], alias
        Widget.objects.create(code=f"w{n}", weight=1)
        Category.objects.create(name=f"c{n}")
        Artist.objects.create(name=f"a{n}")
        swap_db(Artist, "c")
        Artist.objects.create(name="moved")


    @pytest.mark.parametrize("n", range(2))
    @pytest.mark.uses_db(*ALL, transaction=True, reset_sequences=True)
    def test_committing(n, swap_db):
        assert Widget.objects.create(code=f"w{n}", weight=1).pk == 1
        assert Category.objects.create(name=f"c{n}").pk == 1
        swap_db(Widget, "c")
        Widget.objects.create(code="moved", weight=2)
'''


def test_real_databases_untouched_and_nothing_left(inner, pytester, real):
    before = real.contents()
    pytester.makepyfile(test_suite=SUITE)
    run = inner(env=BOTH)
    run.result.assert_outcomes(passed=4)
    summary = run.summary()
    assert set(summary) == {"default", "a", "b", "c"}
    assert summary["b"]["name"].startswith("test_multidb_sample_widgets_")
    assert summary["c"]["name"].startswith("test_multidb_sample_cycles_")
    assert run.token in summary["b"]["name"]
    assert run.token in summary["c"]["name"]
    assert real.contents() == before
    assert all(before.values())
    assert run.leftovers() == set()
    assert list(inner.real_dir.iterdir()) == []  # no sqlite file at the configured paths


CLASH = '''
    from sample_models.settings import *  # noqa: F403

    OTHER_DATABASES = {{
        **OTHER_DATABASES,  # noqa: F405
        "{alias}": {{**{spec}, "TEST": {{"NAME": {spec}["NAME"]}}}},  # noqa: F405
    }}
'''


@pytest.mark.parametrize(("alias", "spec", "real_name"), [
    ("b", "POSTGRES", "multidb_sample_widgets"),
    ("c", "MARIADB", "multidb_sample_cycles"),
], ids=["pg", "maria"])
def test_test_name_equal_to_a_real_database_is_refused(inner, pytester, servers, real, alias, spec, real_name):
    before = real.contents()
    pytester.makepyfile(clash_settings=CLASH.format(alias=alias, spec=spec), test_x='''
        import pytest

        @pytest.mark.uses_db("a", "b", "c")
        def test_x():
            pass
    ''')
    # A plain run (no xdist worker suffix, which would make the name differ from the real one); its pid tells
    # which server databases it made: test_<NAME>_<pid><4 hex>.
    pytester.makepyfile(inner_pid="import os\n\ndef pytest_report_header():\n    return f'inner pid {os.getpid()}'\n")
    run = inner("-p", "inner_pid", "--multidb-settings", "clash_settings", settings=False, env=BOTH, worker=False)
    pid = re.search(r"^inner pid (\d+)$", run.out, re.MULTILINE)[1]
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    message = (f"multidb: alias {alias!r} (TEST['NAME']): test database name {real_name!r} is the name of a "
               "configured database. Fix: give TEST['NAME'] a name that no alias uses, or remove it.")
    assert message in run.out + run.err
    assert (run.out + run.err).count("is the name of a configured database") == 1
    run.result.assert_outcomes()  # nothing ran
    assert real.contents() == before
    made = re.compile(rf"^(pg|maria):test_multidb_sample_\w+_{pid}[0-9a-f]{{4}}$")
    assert not [name for name in servers.databases() if made.match(name)]  # the other aliases' were removed
    assert list(inner.real_dir.iterdir()) == []
