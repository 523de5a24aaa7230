"""``ServerProcess``: the life of one throwaway database server, shaped like testcontainers' database modules minus
Docker: init a data dir in a temp dir of its own, run the server on a free loopback port, wait for the log line that
says it is ready, stop it and remove everything. The server kinds (``PostgresProcess``, ``MariaDBProcess``) and the
provisioner are in ``process.py``.

Each server lives in its own dir under the system temp dir (``pytest-multidb-process-*``): short enough for a unix
socket path (~107 bytes) and reachable by the server's user. As root, servers run as the ``postgres`` / ``mysql``
user (PostgreSQL refuses root), and pytest's temp root is private to root, so only the server log is written there.
The server is recorded in the run's registry before its dir is made; the dir gets a stamp file with the run's
token, and the record gets the server's pid and create time once it is spawned (``process.remove_record`` uses
both after a ``kill -9``).

Why not mirakuru's executors and port-for, as pytest-postgresql uses them: the crash safety rests on the lines
between spawning and waiting. The record exists before the dir does and gets the pid *and* create time the moment
the server is spawned, before it is waited for, so a run killed at any point leaves proof of exactly what it
started; mirakuru's ``start()`` spawns and waits in one call, and it finds its processes again by an environment
marker, not by such a record. Its output-waiting executor reads a pipe, where ours is a log file the errors quote.
port-for picks a free port as ``free_port`` does, with the same race, which ``start`` handles by retrying. Two
more dependencies would replace a few dozen lines, and not the parts that matter.

POSIX-only modules (``pwd``) are imported where they are used, so that importing the plugin works everywhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..messages import provision as texts
from .base import ProvisionError
from .owner import STAMP_FILE, create_time
from .registry import Registry

if TYPE_CHECKING:
    import pwd

SETTING = texts.PROCESS_SETTING
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
                    alias, SETTING, texts.BINARY_NOT_FOUND.format(name=name, where=where),
                    texts.BINARY_NOT_FOUND_FIX.format(package=cls.package, label=cls.label, bindir_env=cls.bindir_env,
                                                      name=name),
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
            alias, SETTING, texts.NO_SYSTEM_USER.format(users=", ".join(cls.system_users), label=cls.label),
            texts.NO_SYSTEM_USER_FIX.format(user=cls.system_users[0]),
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
            raise self._error(texts.NO_FREE_PORT.format(attempts=PORT_ATTEMPTS), offset)
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
                raise self._error(texts.INIT_TIMED_OUT.format(name=name, timeout=START_TIMEOUT), offset) from None
        if done.returncode != 0:
            raise self._error(texts.INIT_FAILED.format(name=name, code=done.returncode), offset)

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
                raise self._error(texts.SERVER_EXITED.format(code=self.process.returncode), offset)
            time.sleep(0.02)
        raise self._error(texts.SERVER_NOT_READY.format(timeout=START_TIMEOUT), offset)

    def _log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _error(self, problem: str, offset: int) -> ProvisionError:
        tail = "\n".join(self._log_since(offset).splitlines()[-LOG_TAIL_LINES:])
        return ProvisionError(
            self.alias, SETTING, texts.SERVER_FAILED.format(label=self.label, problem=problem, log=self.log, tail=tail),
            texts.SERVER_FAILED_FIX.format(alias=self.alias),
        )
