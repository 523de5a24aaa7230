"""Crash-safe cleanup: every provisioned resource is recorded with the run that owns it.

A record is written *before* the resource is made and removed after it is gone, so a run killed with
``kill -9`` leaves a record behind. The next run removes the resources of dead owners only: an owner is a
process id plus its start time, so a live concurrent run (or a recycled pid) is never touched.

Records are small JSON files in one directory per machine (``MULTIDB_REGISTRY`` or
``<tmp>/pytest-multidb-registry``), written with mode 0600 because they may hold connection passwords.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (``/proc/<pid>/stat`` field 22), or ``None`` if it is gone (or a
    zombie: dead, waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def is_alive(pid: int, start_time: str | None) -> bool:
    """Whether the process that had ``pid`` and ``start_time`` still runs."""
    current = process_start_time(pid)
    return current is not None and (start_time is None or current == start_time)


@dataclass(frozen=True)
class Owner:
    pid: int
    start_time: str | None

    @classmethod
    def me(cls) -> Owner:
        return cls(os.getpid(), process_start_time(os.getpid()))

    def alive(self) -> bool:
        return is_alive(self.pid, self.start_time)


def _remove_database(record: dict[str, Any]) -> None:
    from .server import drop_database

    drop_database(record["alias"], record["settings"], record["name"])


def _remove_process(record: dict[str, Any]) -> None:
    pid = record["pid"]
    if is_alive(pid, record.get("start_time")):
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_alive(pid, record.get("start_time")) and time.monotonic() < deadline:
            time.sleep(0.05)
    if record.get("directory"):
        shutil.rmtree(record["directory"], ignore_errors=True)


def _remove_container(record: dict[str, Any]) -> None:
    import docker  # installed with the 'containers' extra, like testcontainers which records these

    with contextlib.suppress(docker.errors.NotFound):
        docker.from_env().containers.get(record["id"]).remove(force=True, v=True)


def _remove_directory(record: dict[str, Any]) -> None:
    shutil.rmtree(record["path"], ignore_errors=True)


#: How to remove a leftover resource, by record type.
REMOVERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "database": _remove_database,
    "process": _remove_process,
    "container": _remove_container,
    "directory": _remove_directory,
}


def describe(record: dict[str, Any]) -> str:
    """A short human description of a record."""
    detail = {
        "database": lambda r: f"database {r['name']!r} ({r['settings'].get('ENGINE', '').rsplit('.', 1)[-1]} "
                              f"{r['settings'].get('HOST') or 'localhost'}:{r['settings'].get('PORT') or '-'})",
        "process": lambda r: f"server process {r['pid']} ({r.get('directory', '')})",
        "container": lambda r: f"container {r['id'][:12]}",
        "directory": lambda r: f"directory {r['path']}",
    }[record["type"]](record)
    return f"{detail} of alias {record.get('alias', '?')!r}, left by pid {record['owner_pid']}"


class Registry:
    """The records of one machine, and the removal of resources whose owner died."""

    def __init__(self, directory: Path | None = None, owner: Owner | None = None) -> None:
        default = Path(tempfile.gettempdir()) / "pytest-multidb-registry"
        self.directory = Path(directory or os.environ.get("MULTIDB_REGISTRY") or default)
        self.owner = owner or Owner.me()

    def add(self, record: dict[str, Any]) -> Path:
        """Record a resource about to be made; returns the record's path (the handle for ``remove``)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{self.owner.pid}-{uuid.uuid4().hex}.json"
        data = {**record, "owner_pid": self.owner.pid, "owner_start_time": self.owner.start_time,
                "created": time.time()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        return path

    def update(self, path: Path, **fields: Any) -> None:
        """Add details learnt after the resource was made (a pid, a container id)."""
        data = json.loads(path.read_text())
        data.update(fields)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        tmp.replace(path)

    @staticmethod
    def remove(path: Path) -> None:
        """Forget a record (its resource is gone)."""
        path.unlink(missing_ok=True)

    def records(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.json")):
            try:
                yield path, json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being written by a live run, or removed meanwhile

    def leftovers(self) -> list[tuple[Path, dict[str, Any]]]:
        """Records whose owning run is no longer alive."""
        return [
            (path, record)
            for path, record in self.records()
            if not Owner(record["owner_pid"], record.get("owner_start_time")).alive()
        ]

    def clean(self) -> tuple[list[str], list[str]]:
        """Remove the resources of dead runs. Returns (what was removed, what could not be)."""
        removed, failed = [], []
        # Databases first (their server may be a leftover process too), processes and containers next.
        order = {"database": 0, "container": 1, "process": 2, "directory": 3}
        for path, record in sorted(self.leftovers(), key=lambda item: order.get(item[1].get("type"), 9)):
            try:
                REMOVERS[record["type"]](record)
            except Exception as error:
                if record["type"] == "database" and _server_gone(error):
                    self.remove(path)  # the server (a leftover process or container) took the database along
                    removed.append(describe(record) + " (its server is gone)")
                else:
                    failed.append(f"{describe(record)}: {error}")
                continue
            self.remove(path)
            removed.append(describe(record))
        return removed, failed


def _server_gone(error: Exception) -> bool:
    from django.db import OperationalError

    return isinstance(error, OperationalError)
