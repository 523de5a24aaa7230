"""``process``: a throwaway PostgreSQL or MariaDB server started for the session and removed at its end.

Shaped like testcontainers' database modules, minus Docker: one small class per server kind
(``PostgresProcess``, ``MariaDBProcess``) knows its binaries, how to initialise a data dir, its command line
and the log line that says it is ready; ``ServerProcess`` does the rest (free loopback port, start, wait,
stop, remove). ``ProcessProvisioner`` picks the class by the alias's vendor and creates the test database.

Where the binaries come from:

- ``$MULTIDB_PG_BINDIR`` / ``$MULTIDB_MARIADB_BINDIR``: when set, only that directory is searched;
- otherwise PostgreSQL: ``PATH``, ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin`` (newest first);
  MariaDB: ``PATH``, ``/usr/sbin``, ``/usr/local/sbin``.

Each server lives in its own dir under the system temp dir (``pytest-multidb-process-*``): short
enough for a unix socket path (~107 bytes) and reachable by the server's user. As root, servers run as the
``postgres`` / ``mysql`` user (PostgreSQL refuses root), and pytest's temp root is private to root, so only the
server log is written there. The server is recorded in the run's registry before its dir is made; the dir gets
a stamp file with the run's token, and the record gets the server's pid and create time once it is spawned. A
run killed with ``kill -9`` leaves nothing the next run does not remove, and the next run stops only the process
the record names *with its create time*, and removes the dir only if it carries the stamp (``registry.py``).

POSIX-only modules (``pwd``) are imported where they are used, so that importing the plugin works everywhere.

Under xdist the workers share one server per alias for the whole run, stopped by the controller at its end
(``shared.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..conf import DatabaseSpec
from . import server, shared
from .base import ProvisionContext, Provisioned, ProvisionError, for_vendor, register
from .registry import STAMP_FILE, Registry, create_time

if TYPE_CHECKING:
    import pwd

SETTING = "--multidb-provision / TEST['PROVISION'] = 'process'"
DIR_PREFIX = "pytest-multidb-process-"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3
PORT_IN_USE = "Address already in use"
LOG_TAIL_LINES = 15


def free_port() -> int:
    """A loopback port nobody listens on right now (the server may still lose it to a race: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class ServerProcess:
    """One throwaway server: init a data dir in a temp dir, run it on a free loopback port, stop and remove it.

    Subclasses say what differs: binaries, init and server command lines, the "ready" log line, the stop signal.
    """

    label: ClassVar[str]
    package: ClassVar[str]
    bindir_env: ClassVar[str]
    search_hint: ClassVar[str]
    binaries: ClassVar[tuple[str, ...]]
    system_users: ClassVar[tuple[str, ...]]
    ready_line: ClassVar[str]
    stop_signal: ClassVar[signal.Signals]
    socket_name: ClassVar[str]
    superuser: ClassVar[str]

    def __init__(self, alias: str, log: Path, registry: Registry) -> None:
        self.alias, self.log, self.registry = alias, log, registry
        self.bin = self.locate(alias)
        self.run_as = self.system_user(alias)
        self.root: Path | None = None
        self.record: Path | None = None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def fallback_dirs(cls) -> list[Path]:
        """Where to look after PATH."""
        raise NotImplementedError

    @classmethod
    def locate(cls, alias: str) -> dict[str, Path]:
        """Every binary of ``binaries`` by name; one ``ProvisionError`` naming the first missing one."""
        override = os.environ.get(cls.bindir_env)
        if override:
            dirs, where = [Path(override)], f"${cls.bindir_env}={override}"
        else:
            path = [Path(entry) for entry in os.environ.get("PATH", "").split(os.pathsep) if entry]
            dirs, where = [*path, *cls.fallback_dirs()], cls.search_hint
        found = {}
        for name in cls.binaries:
            path = next((d / name for d in dirs if os.access(d / name, os.X_OK) and (d / name).is_file()), None)
            if path is None:
                raise ProvisionError(
                    alias, SETTING, f"{name} not found (searched {where})",
                    f"apt-get install {cls.package} (or your system's {cls.label} server package), set "
                    f"{cls.bindir_env} to the directory holding {name}, or choose another kind (server, container)",
                )
            found[name] = path
        return found

    @classmethod
    def system_user(cls, alias: str) -> pwd.struct_passwd | None:
        """As root: the unprivileged user to run the server as. Otherwise ``None`` (run as ourselves)."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return None
        import pwd  # POSIX only, and only needed as root

        for name in (*cls.system_users, "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise ProvisionError(
            alias, SETTING,
            f"running as root, and no user ({', '.join(cls.system_users)}, nobody) exists to run {cls.label} as",
            f"create one (useradd --system {cls.system_users[0]}) or run pytest as a normal user",
        )

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def socket(self) -> Path:
        assert self.root is not None
        return self.root / self.socket_name.format(port=self.port)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def init_command(self) -> list[str]:
        """The command that creates an empty data dir at ``data_dir``."""
        raise NotImplementedError

    def server_command(self) -> list[str]:
        """The command that runs the server in the foreground on ``port`` and ``socket``."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """Connection settings for the running server (without NAME)."""
        return {"HOST": "127.0.0.1", "PORT": self.port, "USER": self.superuser, "PASSWORD": ""}

    def start(self) -> None:
        """Init the data dir and start the server on a free port; on any failure, remove what was made."""
        self.root = Path(tempfile.gettempdir()) / f"{DIR_PREFIX}{uuid.uuid4().hex[:12]}"
        self.record = self.registry.add({"type": "process", "alias": self.alias, "directory": str(self.root)})
        try:
            self.root.mkdir(mode=0o700)  # exclusive: fails if the name exists, so the dir is ours
            (self.root / STAMP_FILE).write_text(self.registry.stamp)
            if self.run_as is not None:
                os.chown(self.root, self.run_as.pw_uid, self.run_as.pw_gid)
            self._init()
            for _ in range(PORT_ATTEMPTS):
                self.port = free_port()
                offset = self.log.stat().st_size
                self.process = self._spawn(self.server_command())
                self.registry.update(self.record, state="made", pid=self.process.pid,
                                     create_time=create_time(self.process.pid))
                if self._wait_ready(offset):
                    return
            raise self._error(f"could not get a free port in {PORT_ATTEMPTS} attempts", offset)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the server (its signal, then SIGKILL after ``STOP_TIMEOUT``), remove its dir, forget its record."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        if self.record is not None:
            self.registry.remove(self.record)

    def details(self) -> dict[str, Any]:
        return {"pid": self.pid, "data_dir": str(self.data_dir), "port": self.port, "socket": str(self.socket),
                "log": str(self.log)}

    def _popen_options(self) -> dict[str, Any]:
        """Run in our dir, as the unprivileged user when we are root, logging into ``log``."""
        options: dict[str, Any] = {"cwd": self.root, "stdin": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
        if self.run_as is not None:
            options.update(user=self.run_as.pw_uid, group=self.run_as.pw_gid, extra_groups=[])
        return options

    def _init(self) -> None:
        command = self.init_command()
        name = Path(command[0]).name
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            try:
                done = subprocess.run(command, stdout=log, timeout=START_TIMEOUT, **self._popen_options())
            except subprocess.TimeoutExpired:
                raise self._error(f"{name} did not finish within {START_TIMEOUT:.0f} s", offset) from None
        if done.returncode != 0:
            raise self._error(f"{name} failed (exit code {done.returncode})", offset)

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:  # the child keeps its own copy of the file descriptor
            return subprocess.Popen(command, stdout=log, **self._popen_options())

    def _wait_ready(self, offset: int) -> bool:
        """``True`` once the server logs ``ready_line``; ``False`` if it lost its port to someone else."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self._log_since(offset)
            if self.ready_line in text:
                return True
            if self.process.poll() is not None:
                if PORT_IN_USE in text:
                    return False
                raise self._error(f"the server exited (code {self.process.returncode}) while starting", offset)
            time.sleep(0.02)
        raise self._error(f"the server was not ready within {START_TIMEOUT:.0f} s", offset)

    def _log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _error(self, problem: str, offset: int) -> ProvisionError:
        tail = "\n".join(self._log_since(offset).splitlines()[-LOG_TAIL_LINES:])
        return ProvisionError(
            self.alias, SETTING, f"{self.label}: {problem}; the end of {self.log}:\n{tail}\n",
            f"see the server log above; or choose another kind for {self.alias!r} (server, container)",
        )


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
        if context.shared is not None:
            return self._in_shared(spec, context, server_class)
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

    def _in_shared(self, spec: DatabaseSpec, context: ProvisionContext,
                   server_class: type[ServerProcess]) -> Provisioned:
        """Under xdist: this worker's database in the run's one server for the alias (started if first)."""
        assert context.shared is not None

        def start(registry: Registry, log_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
            running = server_class(spec.alias, log_dir / f"{spec.alias}-{server_class.package}.log", registry)
            running.start()  # stopped by the controller at the end of the run (shared.stop_owned)
            _STARTED.append(running)
            return running.settings(), running.details()

        found = context.shared.server(spec.alias, context.registry.directory, start)
        settings, cleanup, cloned = shared.database_in(spec, found["settings"], context.database_name(spec),
                                                       context.templates.get(spec.alias), context.registry.stamp)
        return Provisioned(spec.alias, self.kind, settings, cleanup,
                           details={**found["details"], "shared": True, "cloned": cloned})


#: Shared servers this worker started: kept referenced (their ``Popen``) until the process ends.
_STARTED: list[ServerProcess] = []
