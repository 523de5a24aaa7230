"""Warm test databases: kept at the end of a session, claimed by the next one with the same schema.

A session's test database whose schema is unchanged next time need not be made, filled and dropped again.
At the end of a session it is kept *warm* if it holds exactly what its schema install left (the same tables,
the same rows: ``emptying.Baseline.differences``; rows that differ are put back first, and the id counters,
``alias_state.AliasState.changed``);
the next session with the same schema fingerprint
(``schema_cache.fingerprint``, part of the cache key) claims it instead of making one.

- Where: ``<cache dir>/warm/<alias>-<key>-<slot>.sqlite3`` for sqlite; ``test_<NAME>_<cache id><fingerprint>_<slot>``
  on the alias's PostgreSQL / MariaDB server (the cache id keeps two checkouts or machines apart).
- One run at a time: a slot is claimed by holding its file lock (``<cache dir>/warm/<name>.lock``) for the
  whole session; a run that finds a slot held by a live run tries the next (xdist workers, concurrent runs)
  and after ``SLOTS`` makes a database of its own, as without warm databases. The lock is the operating
  system's: a killed run holds none.
- Crash-safe, under the registry's rules (``provision/registry.py``): a claimed server database is stamped with
  the run's token and recorded like any test database the run makes; kept warm, it is stamped ``pytest-multidb
  warm <cache id> cache=<host>:<dir>`` *before* its record is removed, and its entry in the cache's index says
  when it was claimed, for which NAME (``footprint.py``). A run killed in between leaves it
  stamped with its token, and the next run drops it (what a killed test left in it is unknown). A sqlite file
  is marked ``.claimed`` while in use: a marker with nobody holding the lock means the same.
- Its baseline (``emptying.Baseline``: the rows and tables the install left) is kept beside it,
  ``<cache dir>/warm/<name>.baseline``, written at the end of the session that keeps it, before it is stamped warm:
  the next session that claims it reads it instead of taking it again (a query per table on MySQL and sqlite,
  introspection, a snapshot of the seeded rows). A database made new removes the file; one not kept, too.
- Removed when the fingerprint changes (a new warm database of an alias drops that alias's warm databases of
  other schemas), on ``--multidb-rebuild``, by ``--multidb-clean``, by the bound on what stays on a server
  (``footprint.sweep`` after each keep: a gone cache, an age, a count per NAME), and when a session ends with it
  changed. ``--multidb-no-warm`` or
  ``MULTIDB_WARM=0`` turns them off. Never with ``TEST["NAME"]`` (that name is the user's), nor for server
  processes and containers (new every session), nor on MySQL (no schema comments to stamp them with).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .cache_index import cache_index, server_of
from .conf import DatabaseSpec
from .emptying import Baseline
from .footprint import Policy, cache_stamp, claimed, sweep
from .messages import provision as provision_texts
from .messages import run as texts
from .provision.base import ProvisionContext, Provisioned, fit_name
from .provision.owner import Unreachable
from .provision.server import (
    ServerProvisioner,
    admin_cursor,
    cannot_reach,
    drop_database,
    drop_owned,
    has_schema_comments,
    read_stamp,
    server_label,
    server_settings,
    stamp_database,
)
from .provision.sqlite import tuned

#: Warm databases per alias and schema: one per concurrent run or xdist worker.
SLOTS = 8
WARM_DIR = "warm"
#: The provisioning kinds whose databases are kept warm.
KINDS = ("sqlite", "server")
#: ``MULTIDB_WARM=0`` turns warm databases off (as ``--multidb-no-warm`` does).
WARM_ENV = "MULTIDB_WARM"
#: A kept baseline's file format: one of another version is not read (the database's baseline is taken again).
BASELINE_FORMAT = 4


def slot_lock(path: Path) -> FileLock:
    """A slot's lock: taken in a provisioning thread, released by the main thread at the session's end."""
    return FileLock(path, thread_local=False)


#: How a removal's note that the database is another run's begins (``messages.provision.NOT_OURS``).
NOT_OURS_PREFIX = provision_texts.NOT_OURS.partition("{")[0].split(":")[0]


class WarmDatabases:
    """Claims a warm test database for an alias, and keeps it (or removes it) at the end of the session."""

    def __init__(self, directory: Path | None, rebuild: bool = False, enabled: bool = True,
                 policy: Policy | None = None) -> None:
        self.directory = directory / WARM_DIR if directory is not None and enabled else None
        self.cache_dir = directory
        self.rebuild = rebuild
        self.policy = policy or Policy()
        #: What the bound dropped (``footprint.sweep``), one line each, for the session's summary.
        self.lines: list[str] = []
        self._swept: set[str] = set()
        self._id: str | None = None

    def _cache_id(self) -> str:
        """The cache's id (read once: the index is locked and written back on every read)."""
        if self._id is None:
            assert self.cache_dir is not None
            with cache_index(self.cache_dir) as index:
                self._id = index["id"]
        return self._id

    def usable(self, spec: DatabaseSpec, kind: str, key: str | None) -> bool:
        """Whether ``spec``'s test database may be warm: cached schema, a kind that keeps, no ``TEST["NAME"]``."""
        return self.directory is not None and key is not None and kind in KINDS and not spec.test.get("NAME")

    def provision(self, spec: DatabaseSpec, kind: str, key: str | None,
                  context: ProvisionContext) -> Provisioned | None:
        """A claimed warm test database for ``spec`` (``details["warm"]``: ``"reused"`` or ``"new"``), or
        ``None`` when none can be had (the caller provisions as usual)."""
        if not self.usable(spec, kind, key):
            return None
        assert self.directory is not None and key is not None
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        claim = self._sqlite if kind == "sqlite" else self._server
        for slot in range(SLOTS):
            with self._slot(spec, key, slot) as (name, lock):
                if lock is None:
                    continue  # a live run has it
                provisioned = claim(spec, key, name, context)
                if provisioned is None:
                    lock.release()
                    continue
                baseline_file = self.directory / f"{Path(name).name}.baseline"
                if provisioned.details["warm"] != "reused":  # a database made now: no baseline of it is kept
                    baseline_file.unlink(missing_ok=True)
                provisioned.details["baseline_file"] = str(baseline_file)
                _release_after(provisioned, lock)
                return provisioned
        return None

    @contextmanager
    def _slot(self, spec: DatabaseSpec, key: str, slot: int) -> Iterator[tuple[str, FileLock | None]]:
        """The slot's database name and its lock, held (``None``: another run holds it). On an error, released."""
        assert self.directory is not None and self.cache_dir is not None
        if spec.vendor == "sqlite":
            name = str(self.directory / f"{spec.alias}-{key}-{slot}.sqlite3")
        else:
            real = str(spec.settings.get("NAME") or "db")[:16]
            name = fit_name(f"test_{real}", f"_{self._cache_id()[:6]}{key.rpartition('-')[2][:10]}_{slot}")
        lock = slot_lock(self.directory / f"{Path(name).name}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            yield name, None
            return
        try:
            yield name, lock
        except BaseException:
            lock.release()
            raise

    # -- sqlite: a file in the cache directory ------------------------------------------------------------------

    def _sqlite(self, spec: DatabaseSpec, key: str, name: str, context: ProvisionContext) -> Provisioned:
        path = Path(name)
        marker = path.with_suffix(".claimed")
        reused = path.exists() and not marker.exists() and not self.rebuild
        if not reused:  # none yet, a killed run's (marker, lock free), or --multidb-rebuild
            path.unlink(missing_ok=True)
            self._drop_other_schemas_files(spec.alias, key)
        marker.write_text(context.registry.stamp)
        tuned(name)

        def keep() -> None:
            tuned(name, on=False)
            marker.unlink(missing_ok=True)

        def cleanup() -> None:
            tuned(name, on=False)
            path.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)

        return Provisioned(spec.alias, "sqlite", {**spec.settings, "NAME": name}, cleanup, keep=keep,
                           details={"warm": "reused" if reused else "new"})

    def _drop_other_schemas_files(self, alias: str, key: str) -> None:
        """Remove ``alias``'s warm files of other schemas that no live run holds."""
        assert self.directory is not None
        for path in self.directory.glob(f"{alias}-*.sqlite3"):
            if path.name.startswith(f"{alias}-{key}-") and not self.rebuild:
                continue
            lock = slot_lock(self.directory / f"{path.name}.lock")
            try:
                with lock.acquire(timeout=0):
                    path.unlink(missing_ok=True)
                    path.with_suffix(".claimed").unlink(missing_ok=True)
                    (self.directory / f"{path.name}.baseline").unlink(missing_ok=True)
            except Timeout:
                continue

    # -- PostgreSQL and MariaDB: a database on the alias's server ---------------------------------------------

    def _server(self, spec: DatabaseSpec, key: str, name: str, context: ProvisionContext) -> Provisioned | None:
        assert self.cache_dir is not None
        settings, server = server_settings(spec.settings), server_of(spec.settings, engine=True)
        warm = cache_stamp(self._cache_id(), self.cache_dir, "warm")
        try:
            return self._claim_on_server(spec, key, name, context, settings, server, warm)
        except Unreachable as error:  # the same one line as a test database made cold
            raise cannot_reach(spec.alias, spec.settings, texts.CLAIM_WARM.format(name=name), error) from error

    def _claim_on_server(self, spec: DatabaseSpec, key: str, name: str, context: ProvisionContext,
                         settings: dict[str, Any], server: str, warm: str) -> Provisioned | None:
        registry = context.registry
        with admin_cursor(spec.alias, spec.settings) as (wrapper, cursor):
            if wrapper.vendor != "postgresql" and not has_schema_comments(cursor):
                return None  # MySQL: nothing to stamp a warm database with
            exists, stamp = read_stamp(wrapper, cursor, name)
            if exists and stamp != warm:
                return None  # not ours, or claimed by a run of another registry: left alone
            if exists and not self.rebuild:  # claim it: recorded, then stamped with this run's token
                record = registry.add({"type": "database", "alias": spec.alias, "name": name, "settings": settings})
                try:
                    stamp_database(wrapper, cursor, name, registry.stamp)
                except BaseException:
                    registry.remove(record)  # still stamped warm: the next run may claim it
                    raise
                registry.update(record, state="made", stamped=True)
                provisioned = Provisioned(
                    spec.alias, "server", {**spec.settings, "NAME": name},
                    lambda: drop_database(spec.alias, settings, name, registry.stamp), records=[record],
                    details={"warm": "reused", "stamped": True})
            else:
                if exists:  # --multidb-rebuild
                    drop_owned(spec.alias, settings, name, warm)
                provisioned = None
        if provisioned is None:
            entry = {"server": server, "alias": spec.alias, "key": key, "name": name, "settings": settings}
            with cache_index(self.cache_dir) as index:
                self._drop_other_schemas(index, entry, warm)
                if entry not in index["warm"]:
                    index["warm"].append(entry)  # listed before it is made
            # The slot's lock is held: nobody else makes this name meanwhile (the index is not locked for this).
            provisioned = ServerProvisioner().provision_named(spec, context, name)
            provisioned.details["warm"] = "new"
        if not provisioned.details.get("stamped", True):
            return provisioned  # no stamp, so it cannot be kept: dropped at the end as usual

        real_name = str(spec.settings.get("NAME") or "")

        def keep() -> None:
            with admin_cursor(spec.alias, settings) as (wrapper, cursor):
                if read_stamp(wrapper, cursor, name) != (True, context.registry.stamp):
                    raise RuntimeError(texts.WARM_NOT_OURS.format(name=name))
                stamp_database(wrapper, cursor, name, warm)  # before the record goes (see the module's doc)
                with cache_index(self.cache_dir) as index:  # claimed now: what bounds what stays reads it
                    index["warm"] = [claimed(e, real_name) if (e["server"], e["name"]) == (server, name) else e
                                     for e in index["warm"]]
                if server not in self._swept:  # once per server and session, whatever number of aliases it holds
                    self._swept.add(server)
                    label = server_label(wrapper.vendor, settings)
                    self.lines += [f"{label}: {line}" for line in sweep(wrapper, cursor, self.policy)]

        provisioned.keep = keep
        return provisioned

    def _drop_other_schemas(self, index: dict[str, Any], entry: dict[str, Any], warm: str) -> None:
        """Drop the unclaimed warm databases of ``entry``'s alias and server with another schema (on
        ``--multidb-rebuild``, with this one too)."""
        for other in list(index["warm"]):
            if (other["server"], other["alias"]) != (entry["server"], entry["alias"]) or other == entry:
                continue
            if other["key"] == entry["key"] and not self.rebuild:
                continue  # another slot of this schema (another xdist worker's, a concurrent run's)
            try:
                note = drop_owned(other["alias"], other["settings"], other["name"], warm)
            except Exception:
                continue  # unreachable or in use: kept in the index, dropped another time
            if note is None or note == provision_texts.ALREADY_GONE or not note.startswith(NOT_OURS_PREFIX):
                index["warm"].remove(other)
                assert self.directory is not None
                (self.directory / f"{Path(other['name']).name}.baseline").unlink(missing_ok=True)
            # "not ours": claimed by a live run right now: it stays listed and is dropped another time


def kept_baseline(provisioned: Provisioned) -> Baseline | None:
    """The baseline the last session kept a reused warm database with (``keep_baseline``); ``None`` for any other
    database, or when the file is missing, of another format or version, or unreadable."""
    path = provisioned.details.get("baseline_file")
    if provisioned.details.get("warm") != "reused" or path is None:
        return None
    try:
        with open(path, "rb") as file:
            # The warm directory is the user's own (mode 0700), written by ``keep_baseline`` only.
            kept = pickle.load(file)
    except Exception:  # missing, cut short, a class that changed shape: taken again instead
        return None
    if not (isinstance(kept, dict) and kept.get("format") == BASELINE_FORMAT and kept.get("name") == provisioned.name
            and isinstance(kept.get("baseline"), Baseline)):
        return None
    return kept["baseline"]


def keep_baseline(provisioned: Provisioned, baseline: Baseline) -> None:
    """Write ``baseline`` (what the database holds now, checked) beside a warm database that is about to be kept,
    for the next session that claims it (``kept_baseline``). Rows a pickle cannot hold: no file, taken again."""
    path = provisioned.details.get("baseline_file")
    if path is None or provisioned.details.get("baseline") == "kept":  # read from the file, and still true
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as file:
            pickle.dump({"format": BASELINE_FORMAT, "name": provisioned.name, "baseline": baseline}, file)
        os.replace(tmp, path)
    except (pickle.PicklingError, TypeError, AttributeError, OSError):
        for leftover in (tmp, path):
            with suppress(OSError):
                os.unlink(leftover)


def _release_after(provisioned: Provisioned, lock: FileLock) -> None:
    """Release the slot's lock after the database was kept or removed (whatever happened); a removed database's
    kept baseline goes with it."""
    cleanup, keep = provisioned.cleanup, provisioned.keep

    def cleanup_then_release() -> None:
        try:
            Path(provisioned.details["baseline_file"]).unlink(missing_ok=True)
            cleanup()
        finally:
            lock.release()

    def keep_then_release() -> None:
        try:
            keep()
        finally:
            lock.release()

    provisioned.cleanup = cleanup_then_release
    provisioned.keep = keep_then_release if keep is not None else None
