"""A cache directory's index (``templates.json``): its id, the templates and warm databases it made on servers,
the checkouts it served. Read unlocked by ``footprint`` (whose cache is gone?), written under its lock here.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

#: The cache's index file: its id, templates, warm databases and checkouts.
INDEX_FILE = "templates.json"

#: The aliases' provisioning threads take the index in turn here first: a ``FileLock`` held by another thread is
#: polled (``poll_interval``, 50 ms), a ``threading`` lock wakes its waiter at once. The file lock stays for the
#: other processes (xdist workers, concurrent runs).
_THREADS = threading.RLock()


def server_of(settings: dict[str, Any], engine: bool = False) -> str:
    """The server an index entry is on: ``host:port`` for a template, ``engine@host:port`` for a warm database
    (``engine=True``), as indexes written by earlier versions hold them."""
    where = f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or ''}"
    return f"{settings.get('ENGINE', '')}@{where}" if engine else where


def read_index(directory: str | Path) -> dict[str, Any] | None:
    """The index of the cache in ``directory``, read without its lock; ``None`` if there is none (or unreadable)."""
    try:
        index = json.loads((Path(directory) / INDEX_FILE).read_text())
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) else None


@contextmanager
def cache_index(directory: Path, root: Path | None = None) -> Iterator[dict[str, Any]]:
    """This cache's index, locked: ``{"id": <random>, "templates": [{"server", "name"}, ...], "warm": [...],
    "roots": [<checkouts served>]}``, written back (``warm``: the warm test databases, ``warm.py``; ``root``:
    the checkout of this run, recorded, so that the cache counts as gone once every checkout it served is).

    Every template it lists is also stamped ``pytest-multidb template <id>``: a name alone proves nothing.
    """
    path = directory / INDEX_FILE
    with _THREADS, FileLock(directory / f"{INDEX_FILE}.lock"):
        try:
            index = json.loads(path.read_text())
            if not (isinstance(index["id"], str) and isinstance(index["templates"], list)):
                raise TypeError(index)
        except (OSError, ValueError, KeyError, TypeError):
            # None yet, or unreadable: a new id, so that templates named there are left on the server untouched.
            index = {"id": secrets.token_hex(8), "templates": []}
            # On disk before anything is stamped with the new id: another run's ``footprint.cache_gone`` reads the index
            # unlocked, and a stamp naming an id that no index holds yet would look like a gone cache's.
            _write_index(path, index)
        index.setdefault("warm", [])
        roots = index.setdefault("roots", [])
        if root is not None and str(root) not in roots:
            roots.append(str(root))
        try:
            yield index
        finally:
            _write_index(path, index)


def _write_index(path: Path, index: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(index))
    os.replace(tmp, path)
