"""What stays on a server between runs, and its bound: warm test databases and schema-cache templates.

Each one carries a stamp, its database comment, that proves it is ours and names the cache that made it::

    pytest-multidb warm <cache id> cache=<host>:<cache directory>

(``template`` for a template). When it was last claimed and for which configured NAME are in that cache's index
(``cache_index.py``), beside the checkouts the cache served; an entry without them counts as the oldest.
The stamps stay as earlier versions wrote them, so runs of several versions on one host agree on what is whose.

``sweep`` runs on a server at the end of every run that keeps a warm database or stores a template there (and for
``--multidb-clean``): of the stamps of *this host* it drops, one line each, the ones whose cache is gone (its
index, or every checkout it served, deleted), the ones not claimed for ``max_age_days``, and per (kind, configured
NAME) all but the ``keep`` most recently claimed. A database is dropped only while its stamp is still the one read
(re-read in the same connection right before the ``DROP``, without ``FORCE``): one a live run claimed meanwhile
carries that run's token instead, a template being cloned cannot be dropped; both are left for another time.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError

from .cache_index import read_index
from .messages import plugin as texts
from .provision.owner import STAMP_PREFIX
from .provision.server import has_schema_comments, read_stamp

#: The kinds of database a cache stamps as its own.
CACHE_STAMPS = ("template", "warm")
#: The name this machine goes by in stamps (default: its hostname): set it apart where machines share a hostname
#: (CI runners), or to keep runs apart that must not bound each other's databases.
HOST_ID_ENV = "MULTIDB_HOST_ID"
#: Where caches live when pytest's cache provider is off and ``$MULTIDB_CACHE_DIR`` is not set (one per project).
FALLBACK_ROOT = Path(tempfile.gettempdir()) / "pytest-multidb-cache"


@dataclass(frozen=True)
class Policy:
    """The bound a team can rely on: ``keep`` warm databases and ``keep`` templates per configured NAME per
    server, none unclaimed for more than ``max_age_days`` (ini ``multidb_keep`` / ``multidb_max_age_days``)."""

    keep: int = 2
    max_age_days: float = 14.0


#: The environment variables that set the bound when neither option is given (before the ini keys).
KEEP_ENV, MAX_AGE_ENV = "MULTIDB_KEEP", "MULTIDB_MAX_AGE_DAYS"


def policy_from_config(config: pytest.Config) -> Policy:
    """The bound on what stays on a server: ``--multidb-keep`` > ``$MULTIDB_KEEP`` > ini ``multidb_keep``, and
    ``--multidb-max-age-days`` > ``$MULTIDB_MAX_AGE_DAYS`` > ini ``multidb_max_age_days``."""

    def first(option: str, variable: str, ini: str) -> object:
        given = config.getoption(option, None)
        return given if given is not None else os.environ.get(variable) or config.getini(ini)

    try:
        return Policy(int(first("multidb_keep", KEEP_ENV, "multidb_keep") or Policy.keep),
                      float(first("multidb_max_age_days", MAX_AGE_ENV, "multidb_max_age_days") or Policy.max_age_days))
    except ValueError as error:
        raise pytest.UsageError(texts.BAD_POLICY.format(error=error)) from None


@dataclass(frozen=True)
class Stamp:
    """A parsed cache stamp: what it marks, and the cache (id, host, directory) that made it."""

    what: str
    cache_id: str
    host: str
    directory: str

    @classmethod
    def parse(cls, text: str | None) -> Stamp | None:
        """The stamp of ``text`` (a database comment), ``None`` if it is no cache stamp."""
        what = next((w for w in CACHE_STAMPS if text and text.startswith(f"{STAMP_PREFIX}{w} ")), None)
        if text is None or what is None or " cache=" not in text:
            return None
        cache_id, _, where = text.removeprefix(f"{STAMP_PREFIX}{what} ").partition(" cache=")
        host, _, directory = where.partition(":")
        return cls(what, cache_id, host, directory)

    def render(self) -> str:
        return f"{STAMP_PREFIX}{self.what} {self.cache_id} cache={self.host}:{self.directory}"


def host_id() -> str:
    """This machine in stamps: ``$MULTIDB_HOST_ID``, else its hostname."""
    return os.environ.get(HOST_ID_ENV) or socket.gethostname()


def cache_stamp(cache_id: str, directory: Path, what: str = "template") -> str:
    """The stamp of a template (``what="template"``) or a kept warm test database (``"warm"``) of the cache in
    ``directory``."""
    return Stamp(what, cache_id, host_id(), str(directory.resolve())).render()


def claimed(entry: dict[str, Any], database: str) -> dict[str, Any]:
    """``entry`` of a cache index (a template, a warm database) marked as claimed now, for ``database``."""
    return {**entry, "claimed": time.time(), "database": database}


def cache_gone(stamp: Stamp, index: dict[str, Any] | None) -> bool:
    """Whether the cache that made ``stamp`` (on this host), whose ``index`` was read, is gone: its directory no
    longer holds its index (deleted, or made anew by a fresh checkout at the same path), or every checkout it
    served was deleted."""
    if index is None or index.get("id") != stamp.cache_id:
        return True
    roots = index.get("roots") or []
    return bool(roots) and not any(Path(root).exists() for root in roots)


def _stamped(wrapper: Any, cursor: Any) -> list[tuple[str, str]]:
    """Every database on the server with a comment: ``(name, comment)``."""
    if wrapper.vendor == "postgresql":
        cursor.execute("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database")
    elif has_schema_comments(cursor):
        cursor.execute("SELECT SCHEMA_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA")
    else:
        return []
    return [(name, comment) for name, comment in cursor.fetchall() if comment]


def to_drop(found: list[tuple[str, str]], policy: Policy, now: float, cache_id: str | None = None,
            everything: bool = False) -> list[tuple[str, str]]:
    """Which of ``found`` (``(name, stamp)`` on one server) go, and why: ``(name, reason)``.

    Only this host's cache stamps count. ``cache_id``: also every one of that cache (``--multidb-clean``);
    ``everything``: every one of this host (``--multidb-clean=all``)."""
    host = host_id()
    going: dict[str, str] = {}
    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    indexes: dict[str, dict[str, Any] | None] = {}
    for name, text in found:
        stamp = Stamp.parse(text)
        if stamp is None or stamp.host != host:
            continue
        if stamp.directory not in indexes:
            indexes[stamp.directory] = read_index(stamp.directory)
        index = indexes[stamp.directory]
        entries = (index or {}).get("warm" if stamp.what == "warm" else "templates") or []
        entry = next((e for e in entries if isinstance(e, dict) and e.get("name") == name), {})
        when = entry.get("claimed")
        if everything:
            going[name] = "--multidb-clean=all"
        elif stamp.cache_id == cache_id:
            going[name] = "--multidb-clean"
        elif cache_gone(stamp, index):
            going[name] = f"its cache is gone ({stamp.directory})"
        elif when is not None and (now - when) / 86400 > policy.max_age_days:
            going[name] = (f"not claimed for {(now - when) / 86400:.0f} days "
                           f"(multidb_max_age_days = {policy.max_age_days:g})")
        else:  # an entry written before its NAME was recorded: its name without fingerprint (and slot)
            database = entry.get("database") or name.rsplit("_", 2 if stamp.what == "warm" else 1)[0]
            groups.setdefault((stamp.what, database), []).append((when or 0.0, name))
    for (what, database), members in groups.items():
        for _when, name in sorted(members, reverse=True)[policy.keep:]:
            going[name] = (f"more than {policy.keep} {what} database(s) of {database} on this server "
                           f"(multidb_keep = {policy.keep}); least recently claimed first")
    return sorted(going.items())


def sweep(wrapper: Any, cursor: Any, policy: Policy, now: float | None = None, cache_id: str | None = None,
          everything: bool = False, dry_run: bool = False) -> list[str]:
    """Drop what ``to_drop`` chooses on the server of ``cursor`` (an admin cursor, autocommit); one line each
    (``would drop`` with ``dry_run``). A database whose stamp changed since it was read, or that is in use, is
    left for another time."""
    now = time.time() if now is None else now
    found = _stamped(wrapper, cursor)
    stamps = dict(found)
    lines = []
    for name, reason in to_drop(found, policy, now, cache_id, everything):
        what = f"{Stamp.parse(stamps[name]).what} database {name!r}"  # type: ignore[union-attr]
        if dry_run:
            lines.append(f"would drop {what}: {reason}")
            continue
        exists, stamp = read_stamp(wrapper, cursor, name)
        if not exists or stamp != stamps[name]:
            continue  # claimed by a live run (or dropped) meanwhile
        try:
            cursor.execute(f"DROP DATABASE {wrapper.ops.quote_name(name)}")
        except DatabaseError:
            continue  # in use (a template being cloned): another time
        lines.append(f"dropped {what}: {reason}")
    return lines


def sweep_fallback_caches(dry_run: bool = False) -> list[str]:
    """Remove the fallback cache directories (``FALLBACK_ROOT``, one per project) whose every checkout is gone:
    their sqlite warm databases and cached schemas with them. Only a directory holding a cache index of ours."""
    lines = []
    if not FALLBACK_ROOT.is_dir():
        return lines
    for directory in sorted(FALLBACK_ROOT.iterdir()):
        index = read_index(directory)
        roots = (index or {}).get("roots") or []
        if index is None or not roots or any(Path(root).exists() for root in roots):
            continue
        if dry_run:
            lines.append(f"would drop the cache directory {str(directory)!r}: every checkout it served is gone")
            continue
        shutil.rmtree(directory, ignore_errors=True)
        lines.append(f"dropped the cache directory {str(directory)!r}: every checkout it served is gone")
    return lines
