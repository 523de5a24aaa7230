"""The ``process`` provisioner: throwaway PostgreSQL / MariaDB servers started for a session and removed after.

The inner pytest runs use the sample project with alias ``b`` on PostgreSQL and ``c`` on MariaDB, both
provisioned with ``--multidb-provision ALIAS=process``. Tests needing a server kind whose binaries are not
installed are skipped; the missing-binary errors are checked by pointing ``MULTIDB_PG_BINDIR`` /
``MULTIDB_MARIADB_BINDIR`` (the override of the binary search) at an empty directory.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from pytest_multidb.conf import DatabaseSpec
from pytest_multidb.provision import server_process
from pytest_multidb.provision.base import ProvisionContext, ProvisionError
from pytest_multidb.provision.owner import Owner
from pytest_multidb.provision.process import MariaDBProcess, PostgresProcess, ProcessProvisioner, ServerProcess
from pytest_multidb.provision.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
KINDS = [PostgresProcess, MariaDBProcess]


def missing(server: type[ServerProcess]) -> str:
    """Why ``server`` cannot run here ('' when it can)."""
    try:
        server.locate("probe")
    except ProvisionError as error:
        return str(error)
    return ""


def needs(*servers: type[ServerProcess]) -> pytest.MarkDecorator:
    reasons = [reason for reason in map(missing, servers) if reason]
    return pytest.mark.skipif(bool(reasons), reason="; ".join(reasons))


def each_kind() -> list[pytest.ParameterSet]:
    return [pytest.param(kind, id=kind.label, marks=needs(kind)) for kind in KINDS]


def gone(pid: int) -> bool:
    """No such process, or only its zombie (an orphan's parent here may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def processes_using(directory: str) -> list[str]:
    """Command lines of live processes that mention ``directory``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if directory in cmdline and not gone(int(proc.name)):
            found.append(cmdline)
    return found


INNER_CONFTEST = """
import os

def pytest_collection_modifyitems(items):
    if os.environ.get("INNER_REVERSED"):
        items.reverse()
"""

INNER_TESTS = """
import json
import os
from pathlib import Path

import pytest
from django.db import connections

from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


def record(multidb):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(os.environ["INNER_INFO_DIR"], f"{worker}.json").write_text(json.dumps(multidb, default=str))


@pytest.mark.uses_db("b", "c")
@pytest.mark.parametrize("n", range(3))
def test_rolled_back(n, multidb):
    record(multidb)
    assert (Widget.objects.count(), Category.objects.count()) == (0, 0)
    Widget.objects.create(code=f"w{n}", weight=n)
    Category.objects.create(name=f"c{n}")
    assert (Widget.objects.count(), Category.objects.count()) == (1, 1)


@pytest.mark.uses_db("b", "c", transaction=True)
@pytest.mark.parametrize("n", range(3))
def test_committed_then_emptied(n, multidb):
    record(multidb)
    assert (Widget.objects.count(), Category.objects.count()) == (0, 0)
    Widget.objects.create(code=f"w{n}", weight=n)
    Category.objects.create(name=f"c{n}")


@pytest.mark.uses_db("b", "c")
def test_throwaway_servers(multidb):
    record(multidb)
    for alias in "bc":
        assert multidb[alias]["kind"] == "process"
        assert connections[alias].settings_dict["HOST"] == "127.0.0.1"
        assert connections[alias].settings_dict["PORT"] == multidb[alias]["port"]
    with connections["b"].cursor() as cursor:
        cursor.execute("SHOW max_prepared_transactions")  # two-phase commit needs it
        assert cursor.fetchone() == ("10",)
        cursor.execute("SHOW fsync")
        assert cursor.fetchone() == ("off",)
    with connections["c"].cursor() as cursor:
        cursor.execute("XA RECOVER")  # real grant tables: root may use XA
        cursor.execute("SELECT @@innodb_flush_log_at_trx_commit, @@log_bin")
        assert cursor.fetchone() == (0, 0)
"""


@pytest.fixture
def sample_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester dir for the sample project, with its own registry and sample data dir."""
    for name in ("MULTIDB_SAMPLE_PG", "MULTIDB_SAMPLE_MARIA", "MULTIDB_PG_BINDIR", "MULTIDB_MARIADB_BINDIR",
                 "INNER_REVERSED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("MULTIDB_SAMPLE_DIR", str(pytester.mkdir("var")))
    monkeypatch.setenv("MULTIDB_REGISTRY", str(pytester.path / "registry"))
    monkeypatch.setenv("INNER_INFO_DIR", str(pytester.mkdir("info")))
    return pytester


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--multidb-settings", "sample_models.settings", "-p", "no:django", "-p", "no:randomly",
        "--multidb-provision", "b=process", "--multidb-provision", "c=process", *args,
    )


@needs(PostgresProcess, MariaDBProcess)
@pytest.mark.parametrize(("reversed_order", "args"), [(False, []), (True, []), (False, ["-n", "2"])],
                         ids=["forward", "reversed", "xdist"])
def test_isolated_tests_on_throwaway_servers_then_nothing_left(
    sample_run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, reversed_order: bool, args: list[str]
) -> None:
    monkeypatch.setenv("MULTIDB_SAMPLE_PG", "1")
    monkeypatch.setenv("MULTIDB_SAMPLE_MARIA", "1")
    if reversed_order:
        monkeypatch.setenv("INNER_REVERSED", "1")
    sample_run.makeconftest(INNER_CONFTEST)
    sample_run.makepyfile(test_inner=INNER_TESTS)

    result = run_inner(sample_run, *args)

    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*multidb: b: process django.db.backends.postgresql test_multidb_sample_widgets_*",
                                 "*multidb: c: process django.db.backends.mysql test_multidb_sample_cycles_*"])
    infos = list((sample_run.path / "info").glob("*.json"))  # one per worker that ran tests
    servers = [server for path in infos for server in json.loads(path.read_text()).values()]
    assert len(servers) == 2 * len(infos) >= 2
    for server in servers:
        assert server["kind"] == "process"
        assert server["port"] not in (5432, 3306)
        assert gone(server["pid"]), f"server {server['pid']} still runs"
        assert not Path(server["data_dir"]).parent.exists()
        assert processes_using(str(Path(server["data_dir"]).parent)) == []
    assert list((sample_run.path / "registry").glob("*.json")) == []


@pytest.mark.parametrize(("flag", "alias", "server"), [("MULTIDB_SAMPLE_PG", "b", PostgresProcess),
                                                        ("MULTIDB_SAMPLE_MARIA", "c", MariaDBProcess)],
                         ids=["PostgreSQL", "MariaDB"])
def test_missing_binaries_fail_with_one_clear_error(
    sample_run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, flag: str, alias: str, server: type[ServerProcess]
) -> None:
    empty = sample_run.mkdir("empty-bin")
    monkeypatch.setenv(flag, "1")
    monkeypatch.setenv(server.bindir_env, str(empty))
    monkeypatch.setenv("PATH", str(empty))
    sample_run.makepyfile(f"""
        import pytest

        @pytest.mark.uses_db("{alias}")
        def test_needs_server():
            pass
    """)

    result = run_inner(sample_run)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert (f"multidb: alias '{alias}' (--multidb-provision / TEST['PROVISION'] = 'process'): "
            f"{server.binaries[0]} not found (searched ${server.bindir_env}={empty}). "
            f"Fix: apt-get install {server.package}") in output
    assert output.count(" not found (searched ") == 1


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


@pytest.mark.parametrize("kind", each_kind())
def test_a_lost_port_is_retried(
    kind: type[ServerProcess], registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = iter([taken, server_process.free_port()])
        monkeypatch.setattr(server_process, "free_port", lambda: next(ports))
        server = kind("b", tmp_path / "server.log", registry)
        server.start()
    try:
        assert server.port != taken
        assert server_process.PORT_IN_USE in (tmp_path / "server.log").read_text()
        assert server.socket.exists()
    finally:
        server.close()
    assert gone(server.process.pid) and not server.data_dir.parent.exists()
    assert list(registry.records()) == []


class BadLocalePostgres(PostgresProcess):
    """The real ``initdb``, asked for a locale that does not exist: it fails as on a misconfigured machine."""

    def init_command(self) -> list[str]:
        return [*super().init_command(), "--locale=xx_XX.no-such-locale"]


class BadSettingPostgres(PostgresProcess):
    """The real ``postgres``, started with a setting it refuses."""

    def server_command(self) -> list[str]:
        return [*super().server_command(), "-c", "shared_buffers=plenty"]


class BadSettingMariaDB(MariaDBProcess):
    """The real ``mariadbd``, started with an option it does not know."""

    def server_command(self) -> list[str]:
        return [*super().server_command(), "--no-such-option=1"]


@needs(PostgresProcess, MariaDBProcess)
@pytest.mark.parametrize(("server_class", "problem", "logged"), [
    (BadLocalePostgres, "initdb failed (exit code 1)", "invalid locale name"),
    (BadSettingPostgres, "the server exited (code 1) while starting", 'invalid value for parameter "shared_buffers"'),
    (BadSettingMariaDB, "the server exited (code 7) while starting", "unknown variable 'no-such-option=1'"),
], ids=["initdb fails", "postgres refuses a setting", "mariadbd refuses an option"])
def test_a_failed_start_removes_what_it_made(
    registry: Registry, tmp_path: Path, server_class: type[ServerProcess], problem: str, logged: str
) -> None:
    server = server_class("b", tmp_path / "server.log", registry)

    with pytest.raises(ProvisionError) as raised:
        server.start()

    message = str(raised.value)
    assert message.startswith(f"alias 'b' ({server_process.SETTING}): {server.label}: {problem}; the end of ")
    assert logged in message  # the server's own words, from its log
    assert server.root is not None and not server.root.exists()
    assert list(registry.records()) == []


@pytest.mark.parametrize("kind", each_kind())
def test_the_server_of_a_dead_run_is_removed_by_the_next(
    kind: type[ServerProcess], tmp_path: Path
) -> None:
    dead_run = Owner(os.getpid(), 0.0, socket.gethostname())  # not this process: how a run killed with -9 looks
    server = kind("b", tmp_path / "server.log", Registry(tmp_path / "registry", owner=dead_run))
    server.start()
    assert server.process is not None
    reaper = threading.Thread(target=server.process.wait)  # reap it once killed, as init would
    reaper.start()

    removed, failed = Registry(tmp_path / "registry").clean()

    reaper.join(10)
    assert failed == []
    assert removed == [f"server process {server.pid} ({server.root}) of alias 'b', left by pid {os.getpid()}"]
    assert server.process.returncode is not None and not server.root.exists()


def test_only_postgresql_and_mariadb(tmp_path: Path) -> None:
    spec = DatabaseSpec("x", {"ENGINE": "django.db.backends.oracle", "NAME": "x"})
    context = ProvisionContext(tmp_path, "run", registry=Registry(tmp_path / "registry"))
    with pytest.raises(ProvisionError, match=r"kind 'process' cannot run engine 'django.db.backends.oracle'"):
        ProcessProvisioner().provision(spec, context)
