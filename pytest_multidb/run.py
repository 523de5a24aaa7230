"""The run object: what pytest-multidb knows about one pytest run, built from the config and kept in its stash.

Like pytest's ``TempPathFactory.from_config``: ``MultiDB.from_config`` is called as soon as Django is set up
(before the initial conftests, so the access guard is on while they import), and the hooks (``plugin.py``)
and fixtures (``fixtures.py``) are a thin face over it. It holds the options, the tests' declarations, the
session's databases (``session.DatabaseSession``), the aliases' baselines, the guard, and the aliases whose
server stopped answering.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path

import pytest
from django.db import connections

from . import readonly
from .bootstrap import schema_cache_dir, setup_django
from .conf import ConfigurationError, database_specs
from .emptying import Baseline
from .footprint import Policy
from .guard import AccessGuard
from .isolation import TestDatabases
from .markers import MARKER, Declaration, declaration
from .provision import ProvisionError, select_kind
from .provision.base import EXISTING
from .provision.xdist import XdistRun
from .same_database import check_dependencies, mirrors
from .session import DatabaseSession, SessionOptions
from .settings_checks import did_you_mean
from .testcases import class_declaration, django_test_class
from .warm import WARM_ENV

RUN_KEY = pytest.StashKey["MultiDB"]()
DECLARATION_KEY = pytest.StashKey[Declaration]()


def provision_requests(entries: Iterable[str], aliases: Iterable[str]) -> dict[str, str]:
    """``--multidb-provision ALIAS=KIND`` entries as ``{alias: kind}``; a usage error for a bad entry."""
    known = list(aliases)
    requested = {}
    for entry in entries:
        alias, sep, kind = entry.partition("=")
        if not sep or not alias or not kind:
            raise pytest.UsageError(f"multidb: --multidb-provision {entry!r}: expected ALIAS=KIND, e.g. b=process")
        if alias not in known:
            raise pytest.UsageError(
                f"multidb: --multidb-provision {entry!r}: there is no database alias {alias!r} (known: "
                f"{', '.join(known)}). Fix: use one of them, or add the alias to DATABASES or OTHER_DATABASES."
            )
        requested[alias] = kind
    return requested


class MultiDB:
    """One run of pytest-multidb: options, declarations, databases, baselines and the access guard."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.guard = AccessGuard()
        self.specs = database_specs()
        try:
            self.mirrors = mirrors(self.specs)
            check_dependencies(self.specs)
        except ConfigurationError as error:
            raise pytest.UsageError(f"multidb: {error}") from None
        self.provision = provision_requests(getattr(config.known_args_namespace, "multidb_provision", None) or [],
                                            self.specs)
        #: ``TEST["PROVISION"] = "existing"`` aliases: their real databases, read-only in tests.
        self.read_only = frozenset(alias for alias in self.specs if alias not in self.mirrors
                                   and self._kind(alias) == EXISTING)
        self.declarations: dict[str, Declaration] = {}
        self.needed: list[str] = []
        #: How a test declares its aliases, tried in order (``compat.pytest_django`` adds ``django_db``).
        self.declaration_sources: list[Callable[[pytest.Item], Declaration | None]] = [declaration]
        #: Aliases a ``serialized_rollback`` test uses: their install-time contents are serialized.
        self.serialized: set[str] = set()
        self.baselines: dict[str, Baseline] = {}
        #: What each alias's schema install left (``baselines`` may add a ``django_db_setup`` override's rows):
        #: the state a warm database is kept in.
        self.installed: dict[str, Baseline] = {}
        #: alias -> the one line saying its server stopped answering; its later tests fail with it.
        self.broken: dict[str, str] = {}
        self.announced: set[str] = set()
        self.session: DatabaseSession | None = None

    def _kind(self, alias: str) -> str | None:
        try:
            return select_kind(self.specs[alias], self.provision)
        except ProvisionError:  # reported by the provisioning itself
            return None

    @staticmethod
    def of(config: pytest.Config) -> MultiDB | None:
        """The run of ``config``; ``None`` when no Django settings are configured."""
        return config.stash.get(RUN_KEY, None)

    @classmethod
    def start(cls, config: pytest.Config) -> MultiDB | None:
        """Set Django up and build the run (once), as soon as the settings are known; ``None`` without settings."""
        if RUN_KEY not in config.stash and setup_django(config):
            cls.from_config(config)
        return config.stash.get(RUN_KEY, None)

    @classmethod
    def from_config(cls, config: pytest.Config) -> MultiDB:
        """Build the run and turn the access guard on."""
        run = cls(config)
        run.guard.active = True
        run.guard.install()
        config.stash[RUN_KEY] = run
        return run

    def close(self) -> None:
        self.guard.active = False
        self.guard.uninstall()

    # -- declarations -----------------------------------------------------------------------------------------

    def read_declarations(self, items: list[pytest.Item]) -> None:
        """Read every collected test's declaration (``uses_db``, ``django_db``, a Django test class's
        ``databases``); unknown aliases and malformed markers fail the run before anything is provisioned."""
        errors = []
        for item in items:
            try:
                found = self._declaration(item)
            except pytest.UsageError as error:  # a marker that does not fit its signature: all are listed
                errors.append(str(error).removeprefix("multidb: "))
                continue
            if found is not None:
                item.stash[DECLARATION_KEY] = self.declarations[item.nodeid] = found
                errors += self._writes_read_only(item, found)
        known = list(self.specs)
        for nodeid, found in self.declarations.items():
            where = "@pytest.mark.uses_db" if found.source == MARKER else found.source
            errors += [
                f"{nodeid}: {where} names unknown database alias {alias!r}; known aliases: {', '.join(known)}. "
                f"Fix: {did_you_mean(alias, known)}use one of them"
                f"{'' if found.source == MARKER else ' in ' + found.source}, or add the alias "
                "to DATABASES or OTHER_DATABASES."
                for alias in found.aliases
                if alias not in known
            ]
            errors += [
                f"{nodeid}: uses_db(transaction=[...]) names {alias!r}, which the marker does not declare. "
                f"Fix: add {alias!r} to the marker's aliases."
                for alias in found.committing
                if alias not in found.aliases
            ]
        if len(errors) == 1:
            raise pytest.UsageError(f"multidb: {errors[0]}")
        if errors:
            raise pytest.UsageError("multidb:\n" + "\n".join(errors))
        self.needed = list(dict.fromkeys(a for found in self.declarations.values() for a in found.aliases))
        self.serialized = {a for found in self.declarations.values() if found.serialized_rollback
                           for a in found.aliases}

    def _writes_read_only(self, item: pytest.Item, found: Declaration) -> list[str]:
        """Usage errors for a test that would commit on an ``existing`` alias (``transaction=``, or a Django
        ``TransactionTestCase``, which flushes every table afterwards)."""
        commits = found.committing
        cls = django_test_class(item) if found.django_class else None
        if cls is not None:
            from django.test import TestCase, TransactionTestCase

            commits = found.aliases if issubclass(cls, TransactionTestCase) and not issubclass(cls, TestCase) else ()
        how = f"{cls.__qualname__} (a TransactionTestCase) commits" if cls is not None else "commits (transaction=)"
        return [readonly.commit_refused_message(f"{item.nodeid}: {how}", alias)
                for alias in commits if alias in self.read_only]

    def _declaration(self, item: pytest.Item) -> Declaration | None:
        cls = django_test_class(item)
        if cls is not None:  # Django's test class: its databases, whatever markers say
            return class_declaration(cls, self.specs)
        return next((found for source in self.declaration_sources if (found := source(item)) is not None), None)

    def setting_notes(self) -> list[str]:
        """Settings Django takes that mean something else here: one header line each."""
        notes = []
        for alias, spec in self.specs.items():
            if alias in self.read_only or alias in self.mirrors:
                continue
            test_name = str(spec.test.get("NAME") or "")
            if spec.vendor == "sqlite" and test_name and test_name != ":memory:" and "mode=memory" not in test_name:
                notes.append(f"alias {alias!r}: TEST['NAME'] = {test_name!r} is not where its test database goes "
                             "(a file of ours under pytest's temp dir); it still decides which aliases share one, "
                             "as in Django")
            elif spec.vendor not in ("sqlite", "dummy", "") and not spec.settings.get("NAME") and not test_name:
                notes.append(f"alias {alias!r}: NAME is empty: its test database is named test__<run>, and code "
                             f"that opens the real database fails. Fix: set the database's name in "
                             f"{'OTHER_DATABASES' if spec.from_other_databases else 'DATABASES'}[{alias!r}]['NAME']")
        return notes

    def needs(self) -> str | None:
        """What the collected tests need, and through which declarations (for the report); ``None`` when their
        declarations were refused (the usage error says why)."""
        if not self.declarations:
            return "multidb: no collected test uses a database (fixtures calling uses_db() declare as they run)"
        if not self.needed:
            return None
        by_source: dict[str, int] = {}
        for found in self.declarations.values():
            kind = "TestCase.databases" if found.django_class else found.source
            by_source[kind] = by_source.get(kind, 0) + 1
        how = ", ".join(f"{kind}: {count}" for kind, count in by_source.items())
        return (f"multidb: {len(self.declarations)} tests need {', '.join(self.needed)} ({how}); "
                "provisioned when the first of them starts (fixtures calling uses_db() declare as they run)")

    def announce(self, nodeid: str) -> list[str]:
        """Progress lines for the aliases the session will provision when ``nodeid`` starts (once each)."""
        if nodeid not in self.declarations:
            return []
        made = self.session.provisioned if self.session else {}
        new = [alias for alias in self.needed if alias not in made and alias not in self.announced]
        self.announced.update(new)
        lines = []
        for alias in new:
            with suppress(ProvisionError):  # a bad kind is reported by the provisioning itself
                lines.append(DatabaseSession.announcement(alias, select_kind(self.specs[alias], self.provision)))
        return lines

    # -- the session's databases ------------------------------------------------------------------------------

    def start_session(self, tmp_dir: Callable[[], Path], report: Callable[[str], None]) -> DatabaseSession:
        """The session's databases (nothing is provisioned yet)."""
        options = SessionOptions(
            provision=self.provision,
            migrations=not self.config.getoption("multidb_no_migrations"),
            cache_dir=schema_cache_dir(self.config),
            rebuild=self.config.getoption("multidb_rebuild"),
            unmanaged=self.config.getoption("multidb_unmanaged"),
            warm=not self.config.getoption("multidb_no_warm") and os.environ.get(WARM_ENV, "1") != "0",
            xdist=XdistRun.from_workerinput(getattr(self.config, "workerinput", None)),
            policy=footprint_policy(self.config),
            root=self.config.rootpath,
        )
        self.session = DatabaseSession(options, tmp_dir, self.guard.opened, report, self._installed, self._changed)
        self.session.announced = self.announced
        return self.session

    def take_baseline(self, alias: str) -> None:
        """Snapshot what ``alias`` holds now (kept after committing tests); nothing for an ``existing`` alias."""
        assert self.session is not None
        if self.session.read_only(alias):
            return
        self.baselines[alias] = Baseline.take(alias, self.session.unmanaged_tables(alias))

    def _changed(self, alias: str) -> str | None:
        """How ``alias``'s test database differs now from what its schema install left (``None``: it does not).

        Rows that differ (a Django test class's flush, content types or permissions made lazily, a
        ``django_db_setup`` override's rows) are put back as the install left them first: only tables added
        or dropped, or rows that cannot be put back, keep a database from being kept warm."""
        if alias in self.broken:
            return "its server stopped answering"
        baseline = self.installed.get(alias)
        if baseline is None:
            return "no snapshot of its install was taken"
        change = baseline.differences(alias)
        if change is None or not change.startswith("rows "):
            return change
        baseline.restore(alias)
        return baseline.differences(alias)

    def _installed(self, alias: str) -> None:
        self.take_baseline(alias)
        if alias in self.baselines:
            self.installed[alias] = self.baselines[alias]
        if alias in self.serialized:  # what Django's test runner does in create_test_db(serialize=True)
            conn = connections[alias]
            conn._test_serialized_contents = conn.creation.serialize_db_to_string()

    # -- tests ------------------------------------------------------------------------------------------------

    def test_databases(self, item: pytest.Item) -> TestDatabases:
        """The per-test state of ``item`` (its guard scope starts now)."""
        found = item.stash.get(DECLARATION_KEY, None)
        return TestDatabases(item.nodeid, self.guard, reset_sequences=bool(found and found.reset_sequences),
                             baselines=self.baselines, diagnose=self.diagnose, broken=self.broken,
                             mirrors=self.mirrors, read_only=self.read_only)

    def diagnose(self, alias: str, error: BaseException) -> str | None:
        """After ``error`` on ``alias``: if its server no longer answers, the one line that says so (and every
        later test of the alias fails with it); ``None`` when a fresh connection works."""
        if alias in self.broken:
            return self.broken[alias]
        probe = connections.create_connection(alias)
        try:
            with self.guard.opened([alias]):
                probe.ensure_connection()
        except Exception as probe_error:
            self.broken[alias] = self._server_gone(alias, error, probe_error)
            return self.broken[alias]
        finally:
            with suppress(Exception):
                probe.close()
        return None

    def diagnose_failure(self, aliases: Iterable[str], error: BaseException) -> str | None:
        """For a test that failed with a database error: the line saying which alias's server is gone, if one is."""
        from django.db import Error as DatabaseError

        if not isinstance(error, DatabaseError):
            return None
        return next((line for alias in aliases if (line := self.diagnose(alias, error)) is not None), None)

    def _server_gone(self, alias: str, error: BaseException, probe_error: BaseException) -> str:
        settings = connections.settings[alias]
        where = f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 'default port'}"
        provisioned = self.session.provisioned.get(alias) if self.session else None
        kind = provisioned.kind if provisioned else "server"
        if provisioned and provisioned.details.get("log"):
            look = f"see its log {provisioned.details['log']}"
        elif provisioned and provisioned.details.get("container"):
            look = f"see `docker logs {provisioned.details['container']}`"
        else:
            look = "check that the server runs"
        reason = (str(probe_error).strip().splitlines() or [type(probe_error).__name__])[0]
        return (f"alias {alias!r}: its database server ({kind}, {where}) stopped answering ({reason}); {look}. "
                f"Every later test that uses {alias!r} fails with this line.")


#: The environment variables that set the bound when neither option is given (before the ini keys).
KEEP_ENV, MAX_AGE_ENV = "MULTIDB_KEEP", "MULTIDB_MAX_AGE_DAYS"


def footprint_policy(config: pytest.Config) -> Policy:
    """The bound on what stays on a server: ``--multidb-keep`` > ``$MULTIDB_KEEP`` > ini ``multidb_keep``, and
    ``--multidb-max-age-days`` > ``$MULTIDB_MAX_AGE_DAYS`` > ini ``multidb_max_age_days``."""

    def first(option: str, variable: str, ini: str) -> object:
        given = config.getoption(option, None)
        return given if given is not None else os.environ.get(variable) or config.getini(ini)

    try:
        return Policy(int(first("multidb_keep", KEEP_ENV, "multidb_keep") or Policy.keep),
                      float(first("multidb_max_age_days", MAX_AGE_ENV, "multidb_max_age_days") or Policy.max_age_days))
    except ValueError as error:
        raise pytest.UsageError(f"multidb: multidb_keep / multidb_max_age_days: {error}. Fix: give a whole number of "
                                "databases (e.g. 2) and a number of days (e.g. 14).") from None
