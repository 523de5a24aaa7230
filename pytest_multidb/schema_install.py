"""Each test database filled with its alias's schema: restored from the schema cache, or built.

``SchemaInstalls`` is the session's (``session.DatabaseSession``): it is handed each leader's test database as soon
as it is there (``fill``: the cache restores it at once, while servers are still starting) and builds the schemas
the cache does not hold together once all are known (``build``): two or more at once, one in this process and
each other one in a child process forked from it (``schema_workers``; not on Linux: one after another here); one
alone in this process (no process to start). After
an install, this process's follow-ups: the alias's baseline (``AliasState.install_done``), Django's expected
failures for its own suite, the summary line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import nullcontext

from django.db import connections

from .alias_state import AliasState, Opener
from .aliases import Aliases
from .guard import refused_alias
from .install import install_schema
from .messages import described
from .messages import run as texts
from .options import SessionOptions
from .provision import Provisioned, ProvisionError
from .same_database import in_memory_under_django
from .schema_cache import SchemaCache
from .schema_workers import Built, building, can_fork, waves
from .testcases import seen_in_memory
from .warm import kept_baseline


class _Missed(Exception):
    """The schema cache does not hold an alias's schema: it is built once the others' are known."""


class _Touched(Exception):
    """A build in this process touched another alias (``other``); ``error``: the line it failed with."""

    def __init__(self, other: str, error: str) -> None:
        super().__init__(error)
        self.other, self.error = other, error


class InstallTouched(Exception):
    """Schemas whose build touched another alias, as a data migration or a ``post_migrate`` handler may (Django's
    runner sets ``default``, and each alias's ``DEPENDENCIES``, up first): ``touched`` maps each alias to the one it
    touched and the line its build failed with. Their test databases are half built; the session makes them again
    after that alias, with it open (``DatabaseSession.ensure``)."""

    def __init__(self, touched: dict[str, tuple[str, str]]) -> None:
        super().__init__(", ".join(touched))
        self.touched = touched


class SchemaInstalls:
    """Fills the session's test databases (``provisioned``) with their schemas; ``done(alias)`` once one is."""

    def __init__(self, aliases: Aliases, state: AliasState, opened: Opener, provisioned: dict[str, Provisioned],
                 cache_keys: dict[str, str | None], done: Callable[[str], None]) -> None:
        self.aliases, self.state, self._opened, self._done = aliases, state, opened, done
        self.provisioned, self.cache_keys = provisioned, cache_keys
        self.options = SessionOptions()
        self.cache = SchemaCache(None)
        #: alias -> the other aliases open while its schema is built (ones an earlier build of it touched).
        self.opened_with: dict[str, list[str]] = {}

    def start(self, options: SessionOptions, cache: SchemaCache) -> None:
        self.options, self.cache = options, cache

    def real_name(self, alias: str) -> str:
        return str(self.aliases.specs[alias].settings.get("NAME", ""))

    def fill(self, provisioned: Provisioned, missed: Callable[[str], None] | None = None) -> None:
        """Fill ``provisioned``'s test database: warm, from the cache, or built here (``missed``: an alias the
        cache does not hold is handed to it, to be built with the others, instead)."""
        alias, start, started = provisioned.alias, time.perf_counter(), time.time()

        def build() -> None:
            if missed is not None:
                raise _Missed
            try:
                self._build_schema(alias)
            except Exception as error:
                touched = refused_alias(error)
                if touched:
                    raise _Touched(touched, described(error)) from None
                raise self.not_installed(alias, described(error)) from None
            provisioned.details.update(built_in=os.getpid(), build_window=[started, time.time()])

        with self._opened(self._open_for(alias)):
            if provisioned.details.get("warm") == "reused":  # as the last session left it: what the install made
                provisioned.details["schema"] = "warm"
            else:
                try:
                    provisioned.details["schema"] = self._cache_install(provisioned, build)
                except _Missed:
                    assert missed is not None
                    missed(alias)
                    return
            self._follow_up(provisioned, time.perf_counter() - start)

    def _cache_install(self, provisioned: Provisioned, build: Callable[[], None]) -> str:
        """The schema cache's install of ``provisioned``: restored (``"cached"``), or ``build`` run and stored."""
        alias = provisioned.alias
        return self.cache.install(alias, self.cache_keys[alias], build, self.real_name(alias),
                                  cloned=provisioned.details.get("cloned", False))

    def _open_for(self, alias: str) -> list[str]:
        """What is open while ``alias``'s schema is installed: the alias, and the ones an earlier build touched."""
        return [alias, *self.opened_with.get(alias, ())]

    def _build_schema(self, alias: str) -> None:
        install_schema(alias, self.options.migrations, self.aliases.creates_unmanaged(alias))

    def build(self, aliases: list[str]) -> None:
        """Build the schemas the cache does not hold, an alias after the ones of its ``TEST["DEPENDENCIES"]``: two
        or more at once, the first here and each other one in a child forked from this process (elsewhere than
        Linux: all here). An error is raised once every other alias is installed."""
        forking = can_fork() and len(aliases) > 1
        touched: dict[str, tuple[str, str]] = {}
        for wave in waves(aliases, self.aliases.specs):
            here, others = (wave[:1], wave[1:]) if forking else (wave, [])
            failed: list[ProvisionError] = []
            with building({alias: self._forked_build(alias) for alias in others}) as results:
                for alias in here:
                    try:
                        self.fill(self.provisioned[alias])
                    except ProvisionError as error:
                        failed.append(error)
                    except _Touched as error:
                        touched[alias] = (error.other, error.error)
                for built in results():
                    if built.error is None:
                        self._built(built)
                    elif built.touched:
                        touched[built.alias] = (built.touched, built.error)
                    else:
                        failed.append(self.not_installed(built.alias, built.error))
            if failed:
                raise failed[0]
        if touched:
            raise InstallTouched(touched)

    def _forked_build(self, alias: str) -> Callable[[], Built]:
        """What a forked child runs to build ``alias``: the cache's install, as ``fill`` runs it here."""
        def build() -> Built:
            started, known = time.time(), len(self.cache.lines)
            with self._opened(self._open_for(alias)):
                schema = self._cache_install(self.provisioned[alias], lambda: self._build_schema(alias))
            return Built(alias, schema, tuple(self.cache.lines[known:]), os.getpid(), started, time.time())

        return build

    def _built(self, built: Built) -> None:
        """A worker filled ``built.alias``'s test database: what is left is this process's."""
        provisioned = self.provisioned[built.alias]
        provisioned.details.update(schema=built.schema, built_in=built.pid, build_window=[built.started, built.ended])
        self.cache.lines += built.lines
        with self._opened([built.alias]):
            connections[built.alias].close()  # opened again on the schema the worker installed
            self._follow_up(provisioned, built.ended - built.started)

    def _follow_up(self, provisioned: Provisioned, seconds: float) -> None:
        """After the install: the alias's baseline, Django's expected failures, then ``done``."""
        alias, start = provisioned.alias, time.perf_counter()
        kept = kept_baseline(provisioned)
        self.state.install_done(alias, self.aliases.unmanaged_tables(alias), kept)
        if kept is not None:
            provisioned.details["baseline"] = "kept" if self.state.baselines[alias] is kept else "taken"
        if os.environ.get("RUNNING_DJANGOS_TEST_SUITE") == "true":  # as create_test_db does for Django's own
            self._mark_expected_failures_and_skips(alias)  # test suite (runtests.py sets it)
        provisioned.install_seconds = seconds + time.perf_counter() - start
        self._done(alias)

    def _mark_expected_failures_and_skips(self, alias: str) -> None:
        """Django's own suite: the backend's expected failures and skips, for the database Django would make (an
        alias whose test database Django keeps in memory gets an in-memory one's skips)."""
        conn = connections[alias]
        in_memory = conn.vendor == "sqlite" and in_memory_under_django(self.aliases.specs[alias])
        conn.features.__dict__.pop("django_test_skips", None)  # a cached_property, read with the view below
        with seen_in_memory(conn) if in_memory else nullcontext():
            conn.creation.mark_expected_failures_and_skips()
        conn.features.__dict__.pop("django_test_skips", None)

    @staticmethod
    def not_installed(alias: str, error: str) -> ProvisionError:
        """The one-line error of ``alias``'s schema install that failed with ``error``."""
        return ProvisionError(alias, texts.SCHEMA_SETTING, texts.SCHEMA_NOT_INSTALLED.format(error=error),
                              texts.SCHEMA_NOT_INSTALLED_FIX.format(alias=alias))
