"""The session's databases: provisioned once per alias on first need, schema installed, removed at the end.

``DatabaseSession`` is built by the run object (``run.MultiDB``) from the run's aliases (``aliases.Aliases``)
and the access guard's ``opened``; it owns what is learnt of each alias as tests use it (``alias_state``:
baselines, servers gone), which each test's isolation reads. It knows provisioning only, and calls nothing
back in the run.
"""

from __future__ import annotations

import contextlib
import copy
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from .alias_state import AliasState, Opener
from .aliases import Aliases
from .cache_index import cache_index
from .conf import ConfigurationError
from .footprint import sweep_fallback_caches
from .messages import run as texts
from .options import SessionOptions
from .provision import PROVISIONERS, Provisioned, ProvisionError
from .provision.base import EXISTING, ProvisionContext, timed
from .provision.registry import Registry
from .same_database import dependency_order, signature
from .schema_cache import SchemaCache
from .schema_install import InstallTouched, SchemaInstalls
from .warm import WarmDatabases, keep_baseline

#: Kinds that start a server (seconds): the other aliases' schemas are installed meanwhile.
STARTED_KINDS = ("process", "container")


class DatabaseSession:
    """Provisions the aliases tests ask for, once each, and removes them all at the end of the session."""

    def __init__(self, aliases: Aliases, opened: Opener) -> None:
        self.aliases = aliases
        self.specs = aliases.specs
        self.mirrors = aliases.mirrors
        self._opened = opened
        self.provisioned: dict[str, Provisioned] = {}
        #: What is learnt of each alias as tests use it (read by each test's isolation).
        self.state = AliasState(opened, self.provisioned)
        self.summary: list[str] = []
        #: Aliases whose provisioning was already announced (before the test that needs them was reported).
        self.announced: set[str] = set()
        self.run_id = f"{os.getpid()}{uuid.uuid4().hex[:4]}"
        self.worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        self.registry = Registry()
        self.cache_keys: dict[str, str | None] = {}
        #: Database signature -> the alias that provisioned (or provisions) its test database.
        self._leaders: dict[tuple[str, ...], str] = {}
        self._cleaned = False
        self.options = SessionOptions()
        self._tmp_dir: Callable[[], Path] | None = None
        self._report: Callable[[str], None] = lambda line: None
        #: Each installed alias's summary line, until ``ensure`` adds them in its aliases' order.
        self._installed: dict[str, str] = {}
        self.installs = SchemaInstalls(aliases, self.state, opened, self.provisioned, self.cache_keys,
                                       lambda alias: self._installed.update({alias: self.describe(alias)}))

    def start(self, options: SessionOptions, tmp_dir: Callable[[], Path],
              report: Callable[[str], None] = lambda line: None) -> None:
        """Ready to provision: ``options``, where sqlite files and server directories go, where progress lines go
        (nothing is made yet)."""
        self.options, self._tmp_dir, self._report = options, tmp_dir, report
        self.cache = SchemaCache(options.cache_dir, options.rebuild, options.policy)
        self.warm = WarmDatabases(options.cache_dir, options.rebuild, options.warm, options.policy)
        self.installs.start(options, self.cache)
        if options.cache_dir is not None and options.root is not None:
            with cache_index(options.cache_dir, options.root):
                pass  # the checkout is recorded

    @property
    def started(self) -> bool:
        return self._tmp_dir is not None

    def kind(self, alias: str) -> str:
        return self.aliases.kind(alias)

    def read_only(self, alias: str) -> bool:
        """Whether ``alias`` is ``TEST["PROVISION"] = "existing"``: its real database, read-only, untouched."""
        return alias in self.aliases.read_only

    def take_baseline(self, alias: str) -> None:
        """Snapshot what ``alias`` holds now (kept after committing tests); nothing for an ``existing`` alias."""
        if not self.read_only(alias):
            self.state.take_baseline(alias, self.aliases.unmanaged_tables(alias))

    def refresh_baseline(self, alias: str) -> None:
        """The baseline taken again if ``alias``'s tables or rows changed since it was taken (a ``django_db_setup``
        override's): one query or two when nothing did."""
        baseline = self.state.baselines.get(alias)
        if baseline is None or baseline.differences(alias) is not None:
            self.take_baseline(alias)

    def ensure(self, aliases: Iterable[str]) -> None:
        """Provision every alias of ``aliases`` not provisioned yet (in parallel), then install schemas.

        Aliases that are one database (``same_database.py``) use one test database: the first provisions it, the
        others join it; a ``TEST["MIRROR"]`` alias reads its primary's.
        """
        wanted = []
        for alias in aliases:
            wanted += [self.mirrors[alias], alias] if alias in self.mirrors else [alias]
        missing = [alias for alias in dict.fromkeys(wanted) if alias not in self.provisioned]
        if not missing:
            return
        try:
            order = dependency_order(missing, self.specs)
        except ConfigurationError as error:
            raise ProvisionError(error.alias or "?", error.setting, error.problem, error.fix) from None
        joins: dict[str, str] = {}  # alias -> the alias whose test database it uses
        # The alias that builds a shared test database is the one Django's runner picks: 'default' when it is
        # among them (data migrations write through it), else the first in settings order.
        for alias in sorted(order, key=lambda a: (a != DEFAULT_DB_ALIAS, list(self.specs).index(a))):
            if self.read_only(alias):  # its real database: never shared with (nor joined by) a test database
                continue
            leader = self.mirrors.get(alias) or self._leaders.setdefault(signature(self.specs[alias]), alias)
            if leader != alias:
                joins[alias] = leader
        order = [a for a in order if a not in joins] + [a for a in order if a in joins]
        leaders = [alias for alias in order if alias not in joins]
        # Each alias's schema is restored from the cache as soon as its database is there, while server processes
        # and containers are still starting; the schemas not in the cache are built then, at once (``_build``).
        # The provisioning threads are gone before the build: it may fork (``schema_workers``).
        with self._summarised(order):
            missed: list[str] = []
            with self._provisioning(leaders) as ready:
                for alias in leaders:
                    ready(alias)
                    self._install(self.provisioned[alias], missed=missed.append)
            try:
                self.installs.build(missed)
            except InstallTouched as touched:
                self._build_after(touched.touched)
            for alias in order:
                if alias in joins:
                    self._activate(self._joined(alias, joins[alias]))
                    self.cache_keys[alias] = None  # its tables are built in the leader's database: not cached apart
                    self._install(self.provisioned[alias], schema=self._migrated_apart(alias))

    def _build_after(self, touched: dict[str, tuple[str, str]]) -> None:
        """Make again, from a new test database, each schema whose build touched another alias, after that alias
        and with it open, as Django's runner sets ``default`` up first (a data migration writing through the
        router, a ``post_migrate`` handler opening a transaction on ``default``). What it writes there stays
        there, in the baseline, as under Django it stays for the run. Touching one it touched before, or itself:
        the build's own error."""
        pending = dict(touched)
        while pending:
            # One that touched a half-built one waits for it; touching each other: the first's error.
            alias = next((a for a, (other, _) in pending.items() if other not in pending), next(iter(pending)))
            other, error = pending.pop(alias)
            opened = self.installs.opened_with.setdefault(alias, [])
            if other == alias or other in opened or other in pending or other not in self.specs:
                raise self.installs.not_installed(alias, error)
            self.ensure([other])
            opened.append(other)
            half_built = self.provisioned.pop(alias)
            with self._opened([alias]):
                connections[alias].close()
            half_built.cleanup()
            for record in half_built.records:
                self.registry.remove(record)
            self._point_back(alias)
            self.ensure([alias])
            with self._opened([other]):
                self.refresh_baseline(other)

    @contextmanager
    def _summarised(self, order: list[str]) -> Iterator[None]:
        """The summary lines of ``order``'s aliases, in that order, whatever order their installs ended in."""
        try:
            yield
        finally:
            self.summary += [self._installed.pop(alias) for alias in order if alias in self._installed]

    @contextmanager
    def _provisioning(self, missing: list[str]) -> Iterator[Callable[[str], None]]:
        """Start making a test database for each alias of ``missing`` (in parallel); yields ``ready(alias)``,
        which waits for that alias's and points the alias at it (an alias not in ``missing``: nothing to do).

        The first error of any alias is raised as soon as it is known, by ``ready``. On the way out, every
        database made is pointed at (so the session's teardown removes it), whatever happened.
        """
        if not missing:
            yield lambda alias: None
            return
        kinds = {alias: self.kind(alias) for alias in missing}  # bad kinds fail before anything is made
        self.clean_leftovers()
        migrations = self.options.migrations
        self.cache_keys.update({
            alias: None if kinds[alias] == EXISTING else
            self.cache.key(alias, self.specs[alias].vendor, kinds[alias], migrations,
                           self.aliases.creates_unmanaged(alias),
                           shared=self.options.xdist is not None)
            for alias in missing
        })
        templates = {a: self.cache.clone_source(self.cache_keys[a], self._real_name(a)) for a in missing}
        assert self._tmp_dir is not None, "DatabaseSession.start() first"
        context = ProvisionContext(
            self._tmp_dir(), self.run_id, self.worker, self.registry,
            {alias: template for alias, template in templates.items() if template}, self.options.xdist,
        )
        for alias in missing:
            if alias not in self.announced:
                self._report(self.announcement(alias, kinds[alias]))

        def make(alias: str) -> Provisioned:
            spec, kind = self.specs[alias], kinds[alias]
            return timed(lambda: self.warm.provision(spec, kind, self.cache_keys[alias], context)
                         or PROVISIONERS[kind]().provision(spec, context))

        def ready(alias: str) -> None:
            failed = next((f for f in futures.values() if f.done() and f.exception() is not None), None)
            if alias in futures and alias not in self.provisioned:
                self._activate((failed or futures[alias]).result())  # raises the first error known

        with self._opened(missing), ThreadPoolExecutor(max_workers=len(missing)) as pool:
            futures = {alias: pool.submit(make, alias) for alias in missing}
            for alias in missing:  # the quick kinds first: a server that does not answer stops the run before
                if kinds[alias] not in STARTED_KINDS:  # any schema is installed
                    futures[alias].exception()  # waits
            try:
                yield ready
            finally:
                for alias, future in futures.items():
                    with contextlib.suppress(Exception):  # its error is raised by ready, or reported above it
                        if alias not in self.provisioned:
                            self._activate(future.result())

    def _joined(self, alias: str, leader: str) -> Provisioned:
        """``alias`` pointed at ``leader``'s test database (its own OPTIONS kept, e.g. a search_path)."""
        made = self.provisioned[leader].settings
        where = {key: made[key] for key in ("NAME", "HOST", "PORT", "USER", "PASSWORD") if key in made}
        kind = "mirror" if alias in self.mirrors else "shared"
        return Provisioned(alias, kind, {**self.specs[alias].settings, **where}, lambda: None,
                           details={"joins": leader})

    def _migrated_apart(self, alias: str) -> bool:
        """Whether ``alias``, which joins another alias's test database, gets a schema install of its own: an
        ``OTHER_DATABASES`` alias with ``MODELS`` (its models go where its connection points, another schema
        say). Any other is a mirror of the alias that made the database, as in Django's ``setup_databases``,
        which migrates each test database once (a suite's ``django_db_setup`` may migrate the rest itself)."""
        spec = self.specs[alias]
        return alias not in self.mirrors and spec.from_other_databases and bool(spec.models)

    @staticmethod
    def announcement(alias: str, kind: str) -> str:
        """The progress line printed when ``alias`` starts being provisioned."""
        return f"multidb: provisioning {alias!r} ({kind}) ..."

    def _real_name(self, alias: str) -> str:
        return self.installs.real_name(alias)

    def clean_leftovers(self) -> None:
        """Once per session: remove what runs that died (``kill -9``) left behind, and say so."""
        if self._cleaned:
            return
        self._cleaned = True
        removed, failed = self.registry.clean()
        for line in removed:
            self._report(texts.LEFTOVER_REMOVED.format(what=line))
        for line in failed:
            self._report(texts.LEFTOVER_NOT_REMOVED.format(what=line))

    def _activate(self, provisioned: Provisioned) -> None:
        """Point the alias at its test database (closing any connection to the real one first)."""
        alias = provisioned.alias
        with self._opened([alias]):
            connections[alias].close()
        connections.settings[alias].update(provisioned.settings)
        self.provisioned[alias] = provisioned

    def _install(self, provisioned: Provisioned, schema: bool = True,
                 missed: Callable[[str], None] | None = None) -> None:
        """A mirror's and an ``existing`` alias's summary line; any other's schema (``SchemaInstalls.fill``)."""
        alias = provisioned.alias
        if not schema:  # a mirror: its primary's tables are its tables
            joins = provisioned.details["joins"]
            shared = provisioned.kind == "shared"
            provisioned.details["schema"] = "Django's test mirror" if shared else f"mirror of {joins!r}"
            self._installed[alias] = self.describe(alias)
            return
        if provisioned.kind == EXISTING:  # the real database: no schema, no cache, no baseline
            provisioned.details["schema"] = "existing, read-only"
            self._installed[alias] = self.describe(alias)
            return
        self.installs.fill(provisioned, missed)

    def describe(self, alias: str) -> str:
        """One line: alias, kind, engine, test database, seconds to provision + install."""
        p = self.provisioned[alias]
        shares = f", in the database of {p.details['joins']!r}" if p.kind == "shared" else ""
        return (
            f"multidb: {alias}: {p.kind} {self.specs[alias].engine} {p.name} "
            f"({p.seconds:.2f}s + schema {p.install_seconds:.2f}s, {p.details.get('schema', 'built')}{shares})"
        )

    def teardown(self) -> list[str]:
        """Close every connection and remove every provisioned database (or keep it warm, when it is as its
        schema install left it). Returns the errors met."""
        errors = []
        for alias in reversed(list(self.provisioned)):
            provisioned = self.provisioned.pop(alias)
            try:
                # A warm database claimed while the run stopped before its install (another alias's server did not
                # answer): no test opened it, it is as the last session left it.
                untouched = provisioned.details.get("warm") == "reused" and "schema" not in provisioned.details
                keep = provisioned.keep is not None and (untouched or self._unchanged(alias))
                with self._opened([alias]), contextlib.suppress(Exception):  # a broken connection is closed anyway
                    connections[alias].close()
                if keep:
                    if alias in self.state.installed:  # what it holds now (``_unchanged`` checked it)
                        keep_baseline(provisioned, self.state.installed[alias])
                    provisioned.keep()
                else:
                    provisioned.cleanup()
                for record in provisioned.records:
                    self.registry.remove(record)
            except Exception as error:  # keep removing the others; the registry keeps their records
                errors.append(texts.NOT_REMOVED.format(alias=alias, error=error))
            finally:
                self._point_back(alias)
        self.summary += [f"multidb: {line}" for line in (*self.cache.lines, *self.warm.lines, *sweep_fallback_caches())]
        return errors

    def _point_back(self, alias: str) -> None:
        """Point ``alias`` at its configured database again (its settings as they were before ``_activate``)."""
        connections.settings[alias].clear()
        connections.settings[alias].update(copy.deepcopy(self.specs[alias].settings))

    def _unchanged(self, alias: str) -> bool:
        """Whether ``alias``'s test database holds what its schema install left (else it is not kept warm)."""
        try:
            with self._opened([alias]):
                change = self.state.changed(alias)
        except Exception as error:  # a broken connection, a server gone: nothing known, nothing kept
            change = texts.NOT_CHECKED.format(error=f"{type(error).__name__}: {error}").splitlines()[0]
        if change is not None:
            self._report(texts.NOT_KEPT_WARM.format(alias=alias, why=change))
        return change is None

    def info(self) -> dict[str, dict[str, Any]]:
        """Per provisioned alias: kind, settings, timings and test database name."""
        return {
            alias: {
                "kind": p.kind,
                "name": p.name,
                "settings": dict(p.settings),
                "provision_seconds": p.seconds,
                "install_seconds": p.install_seconds,
                **p.details,
            }
            for alias, p in self.provisioned.items()
        }
