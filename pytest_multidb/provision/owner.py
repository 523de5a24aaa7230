"""Who made a resource and whether it still runs: the run's stamp (its token), the owner (pid, create time, host)
and the liveness checks every removal of a leftover relies on (see ``registry.py`` for the rules)."""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from typing import Any

import psutil

from ..messages import provision as texts

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


class Unreachable(Exception):
    """The server (or Docker engine) holding a leftover cannot be reached: the record is kept for the next run."""


def stamp_of(token: str) -> str:
    """The stamp a run with ``token`` puts on what it makes."""
    if not re.fullmatch(r"[0-9a-f]+", token):
        raise ValueError(texts.NOT_A_RUN_TOKEN.format(token=token))  # stamps are inlined in SQL: keep them plain
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
            raise RuntimeError(texts.KILL_TIMED_OUT.format(pid=pid, timeout=KILL_TIMEOUT))
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

    def labels(self, token: str) -> dict[str, str]:
        """Container labels naming the run ``token`` and this owner."""
        return {LABEL_TOKEN: token, LABEL_PID: str(self.pid), LABEL_CREATE_TIME: repr(self.created),
                LABEL_HOST: self.host}
