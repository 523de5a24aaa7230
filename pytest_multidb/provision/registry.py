"""Crash-safe cleanup: every provisioned resource is recorded with the run that owns it, and proves itself.

A record is written *before* its resource is made (state ``intent``) and marked ``made`` once it exists; it
is removed after the resource is gone. A run killed with ``kill -9`` therefore leaves a record behind, and the
next run (or ``pytest --multidb-clean``) looks at the records of *dead* owners only: an owner is a process id,
its create time and the host name, so a live concurrent run, a recycled pid or another machine sharing the
directory is never touched.

A record alone never licenses removing anything: each run has a random token, and every resource carries it
where the next run can check it right before removing:

- a test database: its comment (``COMMENT ON DATABASE`` / a MariaDB schema comment) ``pytest-multidb <token>``;
  it is dropped only when that comment equals the record's token (``server.drop_owned``);
- a container: its labels (token, owner pid, create time and host); removed only when they name a dead owner on
  this host and the record's token;
- a server process: its pid *and* create time, recorded after it was spawned; its directory: a stamp file.

A record whose resource is absent, or carries no stamp or another run's, is forgotten without touching anything
and reported ("not ours: left alone"). A removal that fails keeps the record (and says why) for the next run.

Records are small JSON files in one directory per machine (``MULTIDB_REGISTRY`` or
``<tmp>/pytest-multidb-registry``), written atomically (temp file + ``os.replace``) with mode 0600 because they
may hold connection passwords. A record that cannot be read (a 0-byte file of an older version) is reported and
removed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

#: The text every stamp starts with, followed by the run's token.
STAMP_PREFIX = "pytest-multidb "
#: The file in a server process's directory that holds its run's stamp.
STAMP_FILE = ".pytest-multidb"
#: Container labels carrying the run's token and its owner.
LABEL_TOKEN = "pytest-multidb.token"
LABEL_PID = "pytest-multidb.owner-pid"
LABEL_CREATE_TIME = "pytest-multidb.owner-create-time"
LABEL_HOST = "pytest-multidb.owner-host"
#: psutil derives create times from the boot time, which moves by up to a second when the clock is adjusted;
#: a pid reused within one second by another process is not a practical concern.
CREATE_TIME_TOLERANCE = 1.0
#: How long a killed process may take to go away.
KILL_TIMEOUT = 10.0
RECORD_VERSION = 2


class Unreachable(Exception):
    """The server (or Docker engine) holding a leftover cannot be reached: the record is kept for the next run."""


def stamp_of(token: str) -> str:
    """The stamp a run with ``token`` puts on what it makes."""
    if not re.fullmatch(r"[0-9a-f]+", token):
        raise ValueError(f"not a run token: {token!r}")  # stamps are inlined in SQL: keep them plain
    return STAMP_PREFIX + token


def create_time(pid: int) -> float | None:
    """The create time of ``pid`` (seconds since the epoch), or ``None`` if it is gone or a zombie."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None  # dead, waiting for its parent to reap it
        return process.create_time()
    except psutil.NoSuchProcess:
        return None


def is_alive(pid: int, created: float | None) -> bool:
    """Whether the process that had ``pid`` and create time ``created`` (``None``: unknown) still runs.

    A process we may not inspect (``AccessDenied``) counts as alive: never judge what we cannot see.
    """
    try:
        current = create_time(pid)
    except psutil.AccessDenied:
        return True
    return current is not None and (created is None or abs(current - created) < CREATE_TIME_TOLERANCE)


def kill(pid: int, created: float) -> bool:
    """SIGKILL the process ``pid`` if it is the one created at ``created``; wait until it is gone.

    Returns whether it was running. Our own loop, not ``psutil.wait_procs``: the process is not our child
    (its parent was the killed run), so it may stay a zombie that only our liveness check counts as dead.
    """
    if not is_alive(pid, created):
        return False
    try:
        psutil.Process(pid).kill()
    except psutil.NoSuchProcess:
        return True  # it ended meanwhile
    deadline = time.monotonic() + KILL_TIMEOUT
    while is_alive(pid, created):
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} did not exit within {KILL_TIMEOUT:.0f} s of SIGKILL")
        time.sleep(0.05)
    return True


@dataclass(frozen=True)
class Owner:
    """The run that made a resource: pid, create time and host."""

    pid: int
    created: float | None
    host: str

    @classmethod
    def me(cls) -> Owner:
        return cls(os.getpid(), psutil.Process().create_time(), socket.gethostname())

    @classmethod
    def of(cls, record: dict[str, Any]) -> Owner:
        return cls(record["owner_pid"], record.get("owner_create_time"), record.get("owner_host", ""))

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> Owner | None:
        try:
            return cls(int(labels[LABEL_PID]), float(labels[LABEL_CREATE_TIME]), labels[LABEL_HOST])
        except (KeyError, ValueError):
            return None

    def alive(self) -> bool:
        """Dead only when it ran on this host and its process is gone (another host's runs: never ours to judge)."""
        return self.host != socket.gethostname() or is_alive(self.pid, self.created)


# -- removal of one leftover: ``None`` when removed, else why the record is forgotten without touching anything --


def _remove_database(record: dict[str, Any]) -> str | None:
    from .server import drop_owned

    note = drop_owned(record["alias"], record["settings"], record["name"], stamp_of(record["token"]), force=True)
    return "never made" if note == "already gone" and record["state"] == "intent" else note


def _remove_directory(path: str, token: str) -> str | None:
    """Remove a server's directory if its stamp file holds ``token``."""
    root = Path(path)
    if not root.exists():
        return "already gone"
    try:
        stamp = (root / STAMP_FILE).read_text()
    except OSError:
        stamp = None
    if stamp != stamp_of(token):
        return f"not ours: left alone ({'no stamp' if stamp is None else 'another run stamped it'} in {root})"
    shutil.rmtree(root)
    return None


def _remove_process(record: dict[str, Any]) -> str | None:
    """Stop the recorded server process (only if its create time matches the record), then remove its dir."""
    pid, created = record.get("pid"), record.get("create_time")
    stopped = pid is not None and created is not None and kill(pid, created)
    left = _remove_directory(record["directory"], record["token"])
    if stopped or left is None:
        return None
    if pid is not None and is_alive(pid, None):
        return f"pid {pid} is another process now: left alone; directory {left}"
    return left if record["state"] == "made" or left != "already gone" else "never made"


def _container_is_a_dead_runs(labels: dict[str, str], token: str) -> bool:
    """The labels carry ``token`` and name an owner that is dead (``alive()``: another host's owners live)."""
    owner = Owner.from_labels(labels)
    return labels.get(LABEL_TOKEN) == token and owner is not None and not owner.alive()


#: The environment variables that say which Docker engine a container was made on (kept in its record).
DOCKER_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def docker_engine() -> dict[str, str]:
    """The Docker engine of this process (``DOCKER_HOST`` and its TLS variables), for a container's record."""
    return {name: os.environ[name] for name in DOCKER_VARIABLES if os.environ.get(name)}


def docker_client(record: dict[str, Any]) -> Any:
    """A client of the engine the record's container was made on (a record without one: this process's)."""
    import docker

    engine = record.get("docker")
    if engine is None:
        return docker.from_env()
    return docker.from_env(environment={"DOCKER_HOST": DEFAULT_DOCKER_HOST, **engine})


def _remove_container(record: dict[str, Any],
                      claim: Callable[[dict[str, str], str], bool] = _container_is_a_dead_runs) -> str | None:
    """Remove the containers carrying the record's token (whether or not the record got their id), on the engine
    the record names, if ``claim(labels, token)`` holds (by default: they name a dead owner)."""
    try:
        import docker  # installed with the 'containers' extra, like testcontainers which made them
    except ImportError as error:
        raise Unreachable("the docker package is not installed: pip install 'pytest-multidb[containers]'") from error
    try:
        client = docker_client(record)
        found = client.containers.list(all=True, filters={"label": f"{LABEL_TOKEN}={record['token']}"})
    except docker.errors.DockerException as error:
        where = (record.get("docker") or {}).get("DOCKER_HOST") or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
        raise Unreachable(f"Docker engine unreachable at {where}: {error}") from error
    ours = [container for container in found if claim(container.labels, record["token"])]
    for container in ours:
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            continue  # removed meanwhile
    return None if ours else "already gone"


#: How to remove a leftover resource, by record type; databases first (they may live in a leftover server).
REMOVERS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "database": _remove_database,
    "container": _remove_container,
    "process": _remove_process,
}


def describe(record: dict[str, Any]) -> str:
    """A short human description of a record."""
    kind = record["type"]
    if kind == "database":
        settings = record["settings"]
        detail = (f"database {record['name']!r} ({settings.get('ENGINE', '').rsplit('.', 1)[-1]} "
                  f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or '-'})")
    elif kind == "process":
        pid = record.get("pid") or "(not started)"
        detail = f"server process {pid} ({record.get('directory', record.get('path', ''))})"
    elif kind == "container":
        detail = (f"container {record['id'][:12]}" if record.get("id")
                  else f"container labelled {LABEL_TOKEN}={record.get('token', '?')} (being started)")
    else:
        detail = f"{kind} {record.get('path', '')}".strip()
    return f"{detail} of alias {record.get('alias', '?')!r}, left by pid {record['owner_pid']}"


def _write(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old file or the new one, never a part)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Registry:
    """The records of one machine, and the removal of resources whose owner died."""

    def __init__(self, directory: Path | None = None, owner: Owner | None = None, token: str | None = None) -> None:
        default = Path(tempfile.gettempdir()) / "pytest-multidb-registry"
        self.directory = Path(directory or os.environ.get("MULTIDB_REGISTRY") or default)
        self.owner = owner or Owner.me()
        #: This run's token, put on every resource it makes (see ``stamp``).
        self.token = token or secrets.token_hex(8)

    @property
    def stamp(self) -> str:
        """``pytest-multidb <token>``: the comment on this run's databases, the content of its stamp files."""
        return stamp_of(self.token)

    def labels(self) -> dict[str, str]:
        """Container labels naming this run (token) and its owner (pid, create time, host)."""
        return {LABEL_TOKEN: self.token, LABEL_PID: str(self.owner.pid),
                LABEL_CREATE_TIME: repr(self.owner.created), LABEL_HOST: self.owner.host}

    def add(self, record: dict[str, Any]) -> Path:
        """Record a resource about to be made (state ``intent``); returns the record's path (the handle)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{self.owner.pid}-{uuid.uuid4().hex}.json"
        _write(path, {"state": "intent", **record, "version": RECORD_VERSION, "token": self.token,
                      "owner_pid": self.owner.pid, "owner_create_time": self.owner.created,
                      "owner_host": self.owner.host, "created": time.time()})
        return path

    def update(self, path: Path, **fields: Any) -> None:
        """Add what was learnt once the resource exists (``state="made"``, a pid, a container id)."""
        _write(path, {**json.loads(path.read_text()), **fields})

    @staticmethod
    def remove(path: Path) -> None:
        """Forget a record (its resource is gone)."""
        path.unlink(missing_ok=True)

    def _read_all(self) -> Iterator[tuple[Path, dict[str, Any] | None, str]]:
        """Every record file: (path, record, "") or (path, None, why it cannot be read)."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except FileNotFoundError:
                continue  # removed meanwhile by its run
            except OSError as error:
                yield path, None, f"cannot be read: {error.strerror or error}"
                continue
            except ValueError:
                size = path.stat().st_size if path.exists() else 0
                yield path, None, "empty" if size == 0 else f"not JSON ({size} bytes)"
                continue
            if not isinstance(record, dict) or not isinstance(record.get("owner_pid"), int) \
                    or "type" not in record:
                yield path, None, "not a record of pytest-multidb"
                continue
            yield path, record, ""

    def records(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """The readable records."""
        for path, record, _ in self._read_all():
            if record is not None:
                yield path, record

    def leftovers(self) -> list[tuple[Path, dict[str, Any]]]:
        """Records whose owning run is no longer alive."""
        return [(path, record) for path, record in self.records() if not Owner.of(record).alive()]

    def clean(self) -> tuple[list[str], list[str]]:
        """Remove the resources of dead runs that prove to be theirs. Returns (what was done, what failed).

        Each line of the first list completes "removed leftover ...": a resource, or the record of one that
        was already gone or is not ours (left alone). Failed removals keep their record for the next run.
        """
        removed, failed = [], []
        for path, record, problem in self._read_all():
            if record is None:
                if problem.startswith("cannot be read"):
                    failed.append(f"record {path}: {problem}")
                else:
                    self.remove(path)
                    removed.append(f"unreadable record {path} ({problem}); nothing else touched")
        order = list(REMOVERS)
        for path, record in sorted(self.leftovers(), key=lambda item: _rank(order, item[1]["type"])):
            what = describe(record)
            if record.get("version") != RECORD_VERSION or record["type"] not in REMOVERS:
                self.remove(path)
                removed.append(f"record of {what}: written by another version of pytest-multidb, which cannot "
                               "prove what it made: left alone")
                continue
            try:
                note = REMOVERS[record["type"]](record)
            except Unreachable as error:
                failed.append(f"{what} ({error}; retried next run)")
                continue
            except Exception as error:
                failed.append(f"{what} ({type(error).__name__}: {_first_line(error)}; retried next run)")
                continue
            self.remove(path)
            removed.append(what if note is None else f"record of {what}: {note}")
        return removed, failed


def _rank(order: list[str], kind: str) -> int:
    return order.index(kind) if kind in order else len(order)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0]
