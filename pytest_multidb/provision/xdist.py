"""One server for all xdist workers: one ``process`` server / ``container`` per alias for the whole run.

Without it, ``pytest -n 8`` would start 8 servers per alias. Instead:

- the xdist controller gives every worker (``workerinput``) an ``XdistRun``: its own identity (pid, create time,
  host) as the *owner*, and a run-wide directory (in its pytest temp dir) for locks and state files;
- the first worker that needs an alias's server starts it under a lock keyed by (run, alias). Its registry
  record, directory stamp and container labels name the controller as owner, not the worker. The server's
  address goes into a state file there; the other workers read it and start nothing;
- each worker creates its own test database in it (``test_<NAME>_<run>_<worker>``, from the schema cache's
  template on PostgreSQL, ``server.database_on``) and drops it at its end, as the ``server`` kind does on a
  configured server;
- the controller stops every server it owns at ``pytest_sessionfinish``, once every worker is done
  (``stop_owned``).

A worker killed with ``kill -9`` leaves the server running (the controller owns it): the others keep using it,
and the run's end stops it, with the killed worker's database inside. A killed controller takes its workers with
it; its records then name a dead owner and the next run removes what they prove (``registry.py``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..messages import provision as texts
from .owner import Owner
from .registry import Registry, remove_resource

#: The key of the ``XdistRun`` in xdist's ``workerinput``.
WORKERINPUT_KEY = "multidb_xdist"


@dataclass(frozen=True)
class XdistRun:
    """One xdist run's servers for all workers: who owns them (the controller) and where their state is kept."""

    run_id: str
    owner: Owner
    directory: Path

    @classmethod
    def for_controller(cls, basetemp: Path) -> XdistRun:
        """On the xdist controller: this process owns the run's servers; their state lives under ``basetemp``."""
        run_id = secrets.token_hex(6)
        directory = basetemp / f"multidb-xdist-{run_id}"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(run_id, Owner.me(), directory)

    def to_workerinput(self) -> dict[str, Any]:
        """What a worker needs (JSON-able: execnet sends it)."""
        return {"run_id": self.run_id, "directory": str(self.directory),
                "owner": [self.owner.pid, self.owner.created, self.owner.host]}

    @classmethod
    def from_workerinput(cls, workerinput: dict[str, Any] | None) -> XdistRun | None:
        """On a worker: the controller's ``XdistRun``, or ``None`` (not under xdist, or no multidb controller)."""
        data = (workerinput or {}).get(WORKERINPUT_KEY)
        if not data:
            return None
        pid, created, host = data["owner"]
        return cls(data["run_id"], Owner(pid, created, host), Path(data["directory"]))

    def registry(self, directory: Path) -> Registry:
        """A registry in ``directory`` whose records (and stamps, labels) name the controller as owner."""
        return Registry(directory, owner=self.owner)

    def server(self, alias: str, registry_dir: Path,
               start: Callable[[Registry, Path], tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
        """The address of ``alias``'s server for all workers: read from its state file, or (first worker) started by
        ``start(registry, log_dir)``, which returns (connection settings without NAME, details)."""
        state = self.directory / f"{alias}.json"
        with FileLock(self.directory / f"{alias}.lock"):
            if state.exists():
                return json.loads(state.read_text())
            settings, details = start(self.registry(registry_dir), self.directory)
            found = {"settings": settings, "details": {**details, "started_by": os.environ.get("PYTEST_XDIST_WORKER")}}
            tmp = state.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # may hold a container's password
            with os.fdopen(fd, "w") as out:
                json.dump(found, out)
            os.replace(tmp, state)
            return found


def stop_owned(registry: Registry, owner: Owner) -> tuple[list[str], list[str]]:
    """On the controller, at the end: stop and remove every server process and container recorded as ``owner``'s.

    Returns (what was removed, what could not be: its record stays, for the next run to retry).
    """
    removed, failed = [], []
    for path, record in list(registry.records()):
        if Owner.of(record) != owner or record["type"] not in ("process", "container"):
            continue
        what = texts.XDIST_SERVER.format(type=record["type"], alias=record.get("alias", "?"))
        try:
            remove_resource(record, owner)  # a container: only if its labels name this (live) owner
        except Exception as error:
            failed.append(texts.XDIST_SERVER_NOT_STOPPED.format(what=what, error_type=type(error).__name__,
                                                                error=error))
            continue
        registry.remove(path)
        removed.append(what)
    return removed, failed
