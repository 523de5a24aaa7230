"""``pytest --multidb-clean[=all] [--dry-run]``: list and remove what runs left on this machine and its servers.

- the leftovers of dead runs (the registry's records, ``provision/registry.py``);
- this project's warm test databases (``remove_warm``) and, on every server a configured alias reaches, the warm
  databases and templates stamped by this project's cache; ``=all``: every one stamped on this host;
- the fallback cache directories whose checkouts are all gone (``footprint.sweep_fallback_caches``).

Nothing a live run holds, nothing another host stamped, nothing without our stamp.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.db import connections
from filelock import Timeout

from . import warm
from .cache_index import INDEX_FILE, cache_index
from .conf import database_specs
from .footprint import Policy, cache_stamp, sweep, sweep_fallback_caches
from .messages import first_line
from .messages import plugin as texts
from .messages import provision as provision_texts
from .provision.owner import Unreachable
from .provision.registry import Registry, describe
from .provision.server import admin_cursor, drop_owned, server_label
from .settings_checks import backend_vendor

#: The vendors whose servers keep warm databases and templates.
SERVER_VENDORS = ("postgresql", "mysql")


def cache_id(cache_dir: Path) -> str | None:
    """The id of the cache in ``cache_dir``, read without making one."""
    try:
        return json.loads((cache_dir / INDEX_FILE).read_text()).get("id")
    except (OSError, ValueError, AttributeError):
        return None


def run(cache_dir: Path, policy: Policy, everything: bool, dry_run: bool) -> tuple[list[str], list[str]]:
    """Clean (or, ``dry_run``, list); returns (lines of what was done, lines of what failed)."""
    registry = Registry()
    done: list[str] = [f"{len(registry.leftovers())} leftover(s) of dead runs in {registry.directory}"]
    failed: list[str] = []
    configured = servers()
    if dry_run:
        done += [f"would remove leftover {describe(record)}" for _path, record in registry.leftovers()]
    else:
        removed, not_removed = registry.clean()
        done += [f"removed {line}" for line in removed]
        failed += not_removed
    if cache_dir.is_dir():
        # A dry run lists the warm databases on the configured servers with the sweep below, where the real
        # clean has dropped them by then: here only those of servers the settings no longer name.
        removed, not_removed = remove_warm(cache_dir, dry_run, skip_servers=set(configured) if dry_run else set())
        done += [f"{'would remove' if dry_run else 'removed'} {line}" for line in removed]
        failed += not_removed
    own = cache_id(cache_dir)
    for server, (alias, settings) in configured.items():
        try:
            with admin_cursor(alias, settings) as (wrapper, cursor):
                lines = sweep(wrapper, cursor, policy, cache_id=own, everything=everything, dry_run=dry_run)
        except Unreachable as error:
            failed.append(texts.SERVER_NOT_CLEANED.format(server=server, alias=alias, error=error))
            continue
        done += [f"{server}: {line}" for line in lines]
    done += sweep_fallback_caches(dry_run)
    return done, failed


def servers() -> dict[str, tuple[str, dict[str, object]]]:
    """One configured alias per server that can hold warm databases and templates: ``{server: (alias, settings)}``
    (``server``: as the lines about it name it)."""
    found: dict[str, tuple[str, dict[str, object]]] = {}
    for alias, spec in database_specs().items():
        if spec.vendor not in SERVER_VENDORS:
            continue
        settings = connections.settings[alias]
        found.setdefault(server_label(spec.vendor, settings), (alias, dict(settings)))
    return found


def remove_warm(cache_dir: Path, dry_run: bool = False,
                skip_servers: set[str] | frozenset[str] = frozenset()) -> tuple[list[str], list[str]]:
    """``--multidb-clean``: remove every warm database of this cache that no live run holds, with the baseline kept
    beside it (``dry_run``: list them; ``skip_servers``: not those on these servers, by ``servers()``'s labels).

    Returns (what was removed, what could not be), one line each.
    """
    removed: list[str] = []
    failed: list[str] = []
    directory = cache_dir / warm.WARM_DIR
    if not directory.is_dir():
        return removed, failed
    for path in sorted(directory.glob("*.sqlite3")):
        what = texts.WARM_DATABASE_FILE.format(path=str(path))
        try:
            with warm.slot_lock(directory / f"{path.name}.lock").acquire(timeout=0):
                if not dry_run:
                    path.unlink(missing_ok=True)
                    path.with_suffix(".claimed").unlink(missing_ok=True)
                    (directory / f"{path.name}.baseline").unlink(missing_ok=True)
                removed.append(what)
        except Timeout:
            failed.append(texts.IN_USE.format(what=what))
    with cache_index(cache_dir) as index:
        stamp = cache_stamp(index["id"], cache_dir, "warm")
        for entry in list(index["warm"]):
            settings = entry["settings"]
            label = server_label(backend_vendor(str(settings.get("ENGINE", ""))), settings)
            if label in skip_servers:
                continue
            what = texts.WARM_DATABASE.format(name=entry["name"], alias=entry["alias"], server=label)
            lock = warm.slot_lock(directory / f"{entry['name']}.lock")
            try:
                with lock.acquire(timeout=0):
                    if dry_run:
                        removed.append(what)
                        continue
                    note = drop_owned(entry["alias"], settings, entry["name"], stamp)
                    (directory / f"{entry['name']}.baseline").unlink(missing_ok=True)
            except Timeout:
                failed.append(texts.IN_USE.format(what=what))
                continue
            except Exception as error:  # Unreachable, or the drop failed: listed for the next clean
                failed.append(f"{what}: {first_line(error)}")
                continue
            index["warm"].remove(entry)
            if note is None:
                removed.append(what)
            elif note != provision_texts.ALREADY_GONE:
                removed.append(texts.RECORD_FORGOTTEN.format(what=what, note=note))
        if not dry_run:  # baselines of databases dropped since (another schema's, the bound's): nothing reads them
            listed = {Path(entry["name"]).name for entry in index["warm"]}
            for baseline in directory.glob("*.baseline"):
                name = baseline.name.removesuffix(".baseline")
                if name not in listed and not (directory / name).exists():
                    baseline.unlink(missing_ok=True)
    return removed, failed
