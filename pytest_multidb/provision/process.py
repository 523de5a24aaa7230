"""``process``: a throwaway PostgreSQL or MariaDB server started for the session and removed at its end.

One small class per server kind (``PostgresProcess``, ``MariaDBProcess``) knows its binaries, how to initialise a
data dir, its command line and the log line that says it is ready; ``ServerProcess`` (``server_process.py``, which
also says why not mirakuru and port-for) does the rest (free loopback port, start, wait, stop, remove).
``ProcessProvisioner`` picks the class by the alias's vendor and creates the test database.

Where the binaries come from:

- ``$MULTIDB_PG_BINDIR`` / ``$MULTIDB_MARIADB_BINDIR``: when set, only that directory is searched;
- otherwise PostgreSQL: ``PATH``, ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin`` (newest first);
  MariaDB: ``PATH``, ``/usr/sbin``, ``/usr/local/sbin``.

A run killed with ``kill -9`` leaves nothing the next run does not remove: the next run stops only the process
the record names *with its create time*, and removes the dir only if it carries the stamp (``remove_record``).

Under xdist one server per alias serves all workers for the whole run, stopped by the controller at its end
(``xdist.py``).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, ClassVar

from ..conf import DatabaseSpec
from ..messages import provision as texts
from . import server
from .base import ProvisionContext, Provisioned, for_vendor, register
from .owner import STAMP_FILE, Owner, is_alive, kill, stamp_of
from .registry import RecordKind, Registry, register_record
from .server_process import ServerProcess

__all__ = ["SERVERS", "MariaDBProcess", "PostgresProcess", "ProcessProvisioner", "ServerProcess"]


def pg_config_bindir() -> list[Path]:
    """The ``pg_config --bindir`` directory, when ``pg_config`` is on PATH and answers."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return []
    try:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(out.stdout.strip())]


def postgres_versions() -> list[Path]:
    """``/usr/lib/postgresql/<version>/bin``, newest version first (Debian / Ubuntu layout)."""
    dirs = Path("/usr/lib/postgresql").glob("*/bin")
    return sorted(dirs, key=lambda d: [int(n) for n in re.findall(r"\d+", d.parent.name)], reverse=True)


class PostgresProcess(ServerProcess):
    """PostgreSQL: ``initdb`` (trust auth, no fsync) then ``postgres`` in the foreground, tuned for tests."""

    label = "PostgreSQL"
    package = "postgresql"
    bindir_env = "MULTIDB_PG_BINDIR"
    search_hint = "PATH, pg_config --bindir, /usr/lib/postgresql/*/bin"
    binaries = ("initdb", "postgres")
    system_users = ("postgres",)
    ready_line = "database system is ready to accept connections"
    #: "immediate" shutdown, like pg_ctl stop -m immediate: the data is thrown away (SIGQUIT is POSIX only)
    stop_signal = getattr(signal, "SIGQUIT", signal.SIGTERM)
    socket_name = ".s.PGSQL.{port}"
    superuser = "postgres"

    @classmethod
    def fallback_dirs(cls) -> list[Path]:
        return [*pg_config_bindir(), *postgres_versions()]

    def init_command(self) -> list[str]:
        return [str(self.bin["initdb"]), "-D", str(self.data_dir), "-U", self.superuser, "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]

    def server_command(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.root,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "minimal",
            "max_wal_senders": 0,
            "shared_buffers": "16MB",
            "max_connections": 50,
            "max_prepared_transactions": 10,  # two-phase commit (atomic(two_phase=True))
            "autovacuum": "off",
        }
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        return [str(self.bin["postgres"]), "-D", str(self.data_dir), *options]


class MariaDBProcess(ServerProcess):
    """MariaDB: ``mariadb-install-db`` (root without password, real grant tables) then ``mariadbd``."""

    label = "MariaDB"
    package = "mariadb-server"
    bindir_env = "MULTIDB_MARIADB_BINDIR"
    search_hint = "PATH, /usr/sbin, /usr/local/sbin"
    binaries = ("mariadb-install-db", "mariadbd")
    system_users = ("mysql",)
    ready_line = "ready for connections"
    stop_signal = signal.SIGTERM  # with innodb_fast_shutdown=2: exits without flushing
    socket_name = "mysqld.sock"
    superuser = "root"

    #: Tuning shared by the bootstrap and the server: small InnoDB files and pool, no fsync, no binlog.
    tuning = (
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=32M",
        "--innodb-log-file-size=8M",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--skip-log-bin",
    )

    @classmethod
    def fallback_dirs(cls) -> list[Path]:
        return [Path("/usr/sbin"), Path("/usr/local/sbin")]

    def options(self) -> list[str]:
        """Options of both the bootstrap and the server: no option files, our own dirs (concurrent bootstraps
        sharing /tmp collide on temporary table names), the tuning."""
        return ["--no-defaults", f"--datadir={self.data_dir}", f"--tmpdir={self.root}", *self.tuning]

    def init_command(self) -> list[str]:
        return [str(self.bin["mariadb-install-db"]), *self.options(), "--auth-root-authentication-method=normal",
                "--skip-test-db"]

    def server_command(self) -> list[str]:
        assert self.root is not None
        return [
            str(self.bin["mariadbd"]), *self.options(),
            f"--pid-file={self.root / 'mariadbd.pid'}", f"--socket={self.socket}", f"--port={self.port}",
            "--bind-address=127.0.0.1", "--skip-networking=0", "--max-connections=50",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci", "--innodb-fast-shutdown=2",
        ]


#: Vendor (``DatabaseSpec.vendor``) -> the server class that runs it.
SERVERS: dict[str, type[ServerProcess]] = {"postgresql": PostgresProcess, "mysql": MariaDBProcess}


@register
class ProcessProvisioner:
    """Starts a private server for the alias, creates the test database in it; stops and removes it at the end."""

    kind: ClassVar[str] = "process"

    def provision(self, spec: DatabaseSpec, context: ProvisionContext) -> Provisioned:
        server_class = for_vendor(SERVERS, spec, self.kind)
        if context.xdist is not None:
            return self._in_xdist(spec, context, server_class)
        running = server_class(spec.alias, context.tmp_dir / f"{spec.alias}-{server_class.package}.log",
                               context.registry)
        running.start()
        try:
            settings = {**spec.settings, **running.settings()}
            name = context.database_name(spec)
            server.create_database(spec.alias, settings, name, stamp=context.registry.stamp)
        except BaseException:
            running.close()
            raise
        return Provisioned(spec.alias, self.kind, {**settings, "NAME": name}, running.close,
                           details=running.details(), records=[running.record])

    def _in_xdist(self, spec: DatabaseSpec, context: ProvisionContext,
                   server_class: type[ServerProcess]) -> Provisioned:
        """Under xdist: this worker's database in the run's one server for the alias (started if first)."""
        assert context.xdist is not None

        def start(registry: Registry, log_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
            running = server_class(spec.alias, log_dir / f"{spec.alias}-{server_class.package}.log", registry)
            running.start()  # stopped by the controller at the end of the run (xdist.stop_owned)
            _STARTED.append(running)
            return running.settings(), running.details()

        found = context.xdist.server(spec.alias, context.registry.directory, start)
        settings, cleanup, cloned = server.database_on(spec, found["settings"], context.database_name(spec),
                                                       context.templates.get(spec.alias), context.registry.stamp)
        return Provisioned(spec.alias, self.kind, settings, cleanup,
                           details={**found["details"], "xdist": True, "cloned": cloned})


#: Servers for all workers that this worker started: kept referenced (their ``Popen``) until the process ends.
_STARTED: list[ServerProcess] = []


# -- a leftover server process: ``None`` when removed, else why the record is forgotten without touching anything --


def remove_directory(path: str, token: str) -> str | None:
    """Remove a server's directory if its stamp file holds ``token``."""
    root = Path(path)
    if not root.exists():
        return texts.ALREADY_GONE
    try:
        stamp = (root / STAMP_FILE).read_text()
    except OSError:
        stamp = None
    if stamp != stamp_of(token):
        why = texts.DIRECTORY_NOT_STAMPED if stamp is None else texts.DIRECTORY_STAMPED_BY_ANOTHER_RUN
        return texts.NOT_OURS.format(why=why.format(root=root))
    shutil.rmtree(root)
    return None


def remove_record(record: dict[str, Any], owner: Owner | None = None) -> str | None:
    """Stop the recorded server process (only if its create time matches the record), then remove its dir."""
    pid, created = record.get("pid"), record.get("create_time")
    stopped = pid is not None and created is not None and kill(pid, created)
    left = remove_directory(record["directory"], record["token"])
    if stopped or left is None:
        return None
    if pid is not None and is_alive(pid, None):
        return texts.PID_REUSED.format(pid=pid, left=left)
    return left if record["state"] == "made" or left != texts.ALREADY_GONE else texts.NEVER_MADE


def describe_record(record: dict[str, Any]) -> str:
    pid = record.get("pid") or texts.NOT_STARTED
    return texts.PROCESS_RECORD.format(pid=pid, directory=record.get("directory", record.get("path", "")))


register_record("process", RecordKind(describe_record, remove_record, rank=2))
