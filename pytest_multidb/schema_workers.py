"""Schemas built in worker processes at once: a cold start costs the slowest alias, not their sum.

``migrate`` mutates the app registry, so two builds cannot share a process (threads are unsafe). When two or more
aliases of one ``DatabaseSession.ensure`` miss the schema cache, each is built in a process of its own (the
"spawn" start method: a fresh interpreter with the run's ``sys.path``, working directory and environment). The
worker sets Django up with the run's settings module, points the alias at the test database the run provisioned
(every other alias stays closed to it, as in the run), fills it as the run would (``SchemaCache.install`` with
``install_schema``: under the cache's file lock, restored if another process built it meanwhile, else built and
stored) and reports what it did, or the error in one line. The run's own process builds one of them meanwhile
(no process to start for it), then does the per-process follow-ups of each.

Aliases with ``TEST["DEPENDENCIES"]`` on another alias being built wait for it: builds go in waves.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .conf import DatabaseSpec
from .footprint import Policy
from .messages import described

SETTINGS_MODULE_ENV, CONFIGURATION_ENV = "DJANGO_SETTINGS_MODULE", "DJANGO_CONFIGURATION"


@dataclass(frozen=True)
class Job:
    """What a worker needs to build ``alias``'s schema: its test database and what the run's install is given."""

    alias: str
    settings: dict[str, Any]
    migrations: bool
    unmanaged: bool
    key: str | None
    real_name: str
    cache_dir: Path | None
    rebuild: bool
    policy: Policy = field(default_factory=Policy)
    settings_module: str = ""
    #: ``same_setup()`` in the run: a worker whose own differs builds nothing (the run builds it itself).
    setup: tuple[str, tuple[str, ...]] = ("", ())


@dataclass(frozen=True)
class Built:
    """What a worker did: ``schema`` (``built`` or ``cached``), the cache's lines, its pid and wall-clock window,
    or ``error`` (one line)."""

    alias: str
    schema: str = ""
    lines: tuple[str, ...] = ()
    pid: int = 0
    started: float = 0.0
    ended: float = 0.0
    error: str | None = None
    #: The worker's Django is not set up as the run's (a conftest or plugin changed the settings or connected
    #: migrate handlers at run time): nothing was built; the run builds the schema itself.
    declined: bool = False


def settings_module() -> str:
    """The settings module a worker can set Django up from; ``""`` when the run's settings were configured in
    code (``settings.configure()``): then the aliases are built in the run's process, one after another."""
    from django.conf import settings

    module = getattr(settings, "SETTINGS_MODULE", None) or ""
    return module if module and module == os.environ.get(SETTINGS_MODULE_ENV) else ""


def same_setup(alias: str, migrations: bool, unmanaged: bool) -> tuple[str, tuple[str, ...]]:
    """What a worker's Django must share with the run's to build ``alias``'s schema as the run would: its schema
    fingerprint (models, migrations, routers: settings a conftest changed at run time show there) and the
    ``pre_migrate`` / ``post_migrate`` receivers (a handler connected by a conftest writes rows a worker would not)."""
    from django.db.models.signals import post_migrate, pre_migrate

    from .fingerprint import fingerprint

    receivers = tuple(sorted(_name(entry[1]) for signal in (pre_migrate, post_migrate) for entry in signal.receivers))
    return fingerprint(alias, migrations, unmanaged), receivers


def _name(reference: Any) -> str:
    """A signal receiver's name (``Signal.receivers`` holds weak references, or the receiver itself)."""
    receiver = reference() if isinstance(reference, weakref.ReferenceType) else reference
    return f"{getattr(receiver, '__module__', '')}.{getattr(receiver, '__qualname__', type(receiver).__qualname__)}"


def waves(aliases: Iterable[str], specs: Mapping[str, DatabaseSpec]) -> list[list[str]]:
    """``aliases`` in groups built at once, each alias after the ones of its ``TEST["DEPENDENCIES"]`` among them.

    The implicit dependency on ``default`` (Django's runner orders by it) orders nothing here: while a schema is
    installed no other alias can be opened (the access guard), so no build reads another one's tables.
    """
    pending, found = list(dict.fromkeys(aliases)), []
    while pending:
        wave = [a for a in pending if not set(specs[a].test.get("DEPENDENCIES") or ()) & (set(pending) - {a})]
        wave = wave or pending[:1]  # a cycle was refused when the order was made: never met here
        found.append(wave)
        pending = [a for a in pending if a not in wave]
    return found


@contextmanager
def building(jobs: list[Job]) -> Iterator[Callable[[], list[Built]]]:
    """Start every job in a process of its own, at once; yields ``results()``, which waits for them all (in
    ``jobs``' order). On the way out every job has ended (its test database is no longer used), whatever happened;
    the processes exit in the background."""
    spawn = get_context("spawn")
    pools = [ProcessPoolExecutor(max_workers=1, mp_context=spawn) for _ in jobs]
    futures = [pool.submit(build, job) for pool, job in zip(pools, jobs, strict=True)]

    def results() -> list[Built]:
        found = []
        for job, future in zip(jobs, futures, strict=True):
            try:
                found.append(future.result())
            except Exception as error:  # the process died, or its result did not come back
                found.append(Built(job.alias, error=described(error)))
        return found

    try:
        yield results
    finally:
        results()
        for pool in pools:
            pool.shutdown(wait=False)


def build(job: Job) -> Built:
    """In a worker: set Django up, build ``job.alias``'s schema in its test database, fill the schema cache."""
    started = time.time()
    try:
        cache = _set_up(job)
        if same_setup(job.alias, job.migrations, job.unmanaged) != job.setup:
            return Built(job.alias, pid=os.getpid(), started=started, ended=time.time(), declined=True)
        from .install import install_schema

        schema = cache.install(job.alias, job.key, lambda: install_schema(job.alias, job.migrations, job.unmanaged),
                               job.real_name)
        return Built(job.alias, schema, tuple(cache.lines), os.getpid(), started, time.time())
    except Exception as error:
        return Built(job.alias, pid=os.getpid(), started=started, ended=time.time(), error=described(error))
    finally:
        from django.db import connections

        connections.close_all()


def _set_up(job: Job) -> Any:
    """Django set up as the run set it up (its settings module, django-configurations' importer, the layer
    wired), ``job.alias`` pointed at its test database and the only alias that may be opened."""
    import django
    from django.db import connections

    os.environ[SETTINGS_MODULE_ENV] = job.settings_module
    if os.environ.get(CONFIGURATION_ENV):
        import configurations.importer

        configurations.importer.install()
    django.setup()
    from .apps import wire_layer
    from .guard import AccessGuard
    from .schema_cache import SchemaCache

    wire_layer()
    connections.settings[job.alias].update(job.settings)
    guard = AccessGuard()
    guard.install()
    guard.active, guard.allowed = True, frozenset({job.alias})
    return SchemaCache(job.cache_dir, job.rebuild, job.policy)
