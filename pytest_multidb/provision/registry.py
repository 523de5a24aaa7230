"""Crash-safe cleanup: every provisioned resource is recorded with the run that owns it, and proves itself.

A record is written *before* its resource is made (state ``intent``) and marked ``made`` once it exists; it
is removed after the resource is gone. A run killed with ``kill -9`` therefore leaves a record behind, and the
next run (or ``pytest --multidb-clean``) looks at the records of *dead* owners only: an owner is a process id,
its create time and the host name, so a live concurrent run, a recycled pid or another machine sharing the
directory is never touched.

A record alone never licenses removing anything: each run has a random token (its stamp, ``owner.py``), and every
resource carries it where the next run can check it right before removing. Each kind removes its own resources
(``RecordKind``, registered by the provisioner modules; this module knows none of them):

- a test database: its comment (``COMMENT ON DATABASE`` / a MariaDB schema comment) ``pytest-multidb <token>``;
  it is dropped only when that comment equals the record's token (``server.remove_record``);
- a container: its labels (token, owner pid, create time and host); removed only when they name a dead owner on
  this host and the record's token (``container.remove_record``);
- a server process: its pid *and* create time, recorded after it was spawned; its directory: a stamp file
  (``process.remove_record``).

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
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..messages import described
from ..messages import provision as texts
from .owner import Owner, Unreachable, stamp_of

RECORD_VERSION = 2


@dataclass(frozen=True)
class RecordKind:
    """How the resources of one record ``type`` are told and removed; each provisioner module registers its own
    (``register_record``), so that this module knows no kind."""

    #: What the record names, e.g. ``database 'x' (postgresql host:5432)``.
    describe: Callable[[dict[str, Any]], str]
    #: Remove the recorded resource if it proves to be the record's: ``None`` once removed, else why the record is
    #: forgotten without touching anything. The ``Owner`` is a live one removing its own (the xdist controller at
    #: its end); ``None``: a leftover of a dead run. Raises ``Unreachable`` to keep the record for the next run.
    remove: Callable[[dict[str, Any], Owner | None], str | None]
    #: Lower first: databases before the servers they may live in.
    rank: int


#: Record type -> its ``RecordKind``; filled by the provisioner modules (imported by ``provision/__init__.py``).
RECORD_KINDS: dict[str, RecordKind] = {}


def register_record(type_: str, kind: RecordKind) -> None:
    """Say how the records of ``type_`` are described and removed."""
    RECORD_KINDS[type_] = kind


def remove_resource(record: dict[str, Any], owner: Owner | None = None) -> str | None:
    """Remove what ``record`` names, by its type's ``RecordKind`` (see ``RecordKind.remove``)."""
    return RECORD_KINDS[record["type"]].remove(record, owner)


def describe(record: dict[str, Any]) -> str:
    """A short human description of a record."""
    kind = RECORD_KINDS.get(record["type"])
    detail = kind.describe(record) if kind else f"{record['type']} {record.get('path', '')}".strip()
    return texts.RECORD_OF_ALIAS.format(what=detail, alias=record.get("alias", "?"), pid=record["owner_pid"])


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
        return self.owner.labels(self.token)

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
                yield path, None, texts.RECORD_CANNOT_BE_READ.format(error=error.strerror or error)
                continue
            except ValueError:
                size = path.stat().st_size if path.exists() else 0
                yield path, None, texts.RECORD_EMPTY if size == 0 else texts.RECORD_NOT_JSON.format(size=size)
                continue
            if not isinstance(record, dict) or not isinstance(record.get("owner_pid"), int) \
                    or "type" not in record:
                yield path, None, texts.NOT_A_RECORD
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
                if problem.startswith(texts.RECORD_CANNOT_BE_READ.partition("{")[0]):  # retried next run
                    failed.append(texts.RECORD_PROBLEM.format(path=path, problem=problem))
                else:
                    self.remove(path)
                    removed.append(texts.UNREADABLE_RECORD.format(path=path, problem=problem))
        for path, record in sorted(self.leftovers(), key=lambda item: _rank(item[1]["type"])):
            what = describe(record)
            if record.get("version") != RECORD_VERSION or record["type"] not in RECORD_KINDS:
                self.remove(path)
                removed.append(texts.RECORD_OF_OTHER_VERSION.format(what=what))
                continue
            try:
                note = remove_resource(record)
            except Unreachable as error:
                failed.append(texts.RETRIED_NEXT_RUN.format(what=what, error=error))
                continue
            except Exception as error:
                failed.append(texts.RETRIED_NEXT_RUN.format(what=what, error=described(error)))
                continue
            self.remove(path)
            removed.append(what if note is None else texts.RECORD_FORGOTTEN.format(what=what, note=note))
        return removed, failed


def _rank(kind: str) -> int:
    return RECORD_KINDS[kind].rank if kind in RECORD_KINDS else len(RECORD_KINDS)
