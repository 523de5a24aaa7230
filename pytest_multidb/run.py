"""The run object: what pytest-multidb knows about one pytest run, built from the config and kept in its stash.

Like pytest's ``TempPathFactory.from_config``: ``MultiDB.from_config`` is called as soon as Django is set up
(before the initial conftests, so the access guard is on while they import), and the hooks (``plugin.py``)
and fixtures (``fixtures.py``) are a thin face over it. It holds the options, the tests' declarations, the
session's databases (``session.DatabaseSession``), the aliases' baselines, the guard, and the aliases whose
server stopped answering.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest

from . import readonly
from .aliases import Aliases
from .bootstrap import setup_django
from .guard import AccessGuard, database_of
from .isolation import TestDatabases
from .markers import MARKER, Declaration, declaration, skipped_whatever_happens
from .messages import run as texts
from .options import SessionOptions
from .provision import ProvisionError
from .session import DatabaseSession
from .settings_checks import did_you_mean
from .stash_keys import DECLARATION_KEY, RUN_KEY
from .testcases import class_declaration, django_test_class


class MultiDB:
    """One run of pytest-multidb: options, declarations, databases, baselines and the access guard."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.guard = AccessGuard()
        self.aliases = Aliases.from_config(config)
        self.specs = self.aliases.specs
        self.guard.configured = {alias: database_of(spec.settings) for alias, spec in self.specs.items()}
        self.declarations: dict[str, Declaration] = {}
        self.needed: list[str] = []
        #: How a test declares its aliases, tried in order (``compat.pytest_django`` adds ``django_db``).
        self.declaration_sources: list[Callable[[pytest.Item], Declaration | None]] = [declaration]
        self.announced: set[str] = set()
        #: The session's databases: nothing is made before the first test that needs one starts it.
        self.session = DatabaseSession(self.aliases, self.guard.opened)
        #: Whether the ``_multidb_session`` fixture is set up (from its first request to the session's end).
        self.session_fixture_up = False

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
                texts.UNKNOWN_DECLARED_ALIAS.format(
                    nodeid=nodeid, where=where, alias=alias, known=", ".join(known),
                    did_you_mean=did_you_mean(alias, known),
                    in_source="" if found.source == MARKER else f" in {found.source}")
                for alias in found.aliases
                if alias not in known
            ]
            errors += [texts.UNDECLARED_COMMITTING_ALIAS.format(nodeid=nodeid, alias=alias)
                       for alias in found.committing if alias not in found.aliases]
        if len(errors) == 1:
            raise pytest.UsageError(texts.PREFIXED.format(line=errors[0]))
        if errors:
            raise pytest.UsageError(texts.PREFIXED_LINES.format(lines="\n".join(errors)))
        self.needed = list(dict.fromkeys(a for found in self.declarations.values() for a in found.aliases))
        self.session.state.serialized.update(a for found in self.declarations.values() if found.serialized_rollback
                                             for a in found.aliases)

    def _writes_read_only(self, item: pytest.Item, found: Declaration) -> list[str]:
        """Usage errors for a test that would commit on an ``existing`` alias (``transaction=``, or a Django
        ``TransactionTestCase``, which flushes every table afterwards)."""
        commits = found.committing
        cls = django_test_class(item) if found.django_class else None
        if cls is not None:
            from django.test import TestCase, TransactionTestCase

            commits = found.aliases if issubclass(cls, TransactionTestCase) and not issubclass(cls, TestCase) else ()
        who = (texts.TEST_CLASS_COMMITS.format(nodeid=item.nodeid, cls=cls.__qualname__) if cls is not None
               else texts.TEST_COMMITS.format(nodeid=item.nodeid))
        return [readonly.commit_refused_message(who, alias)
                for alias in commits if alias in self.aliases.read_only]

    def _declaration(self, item: pytest.Item) -> Declaration | None:
        if skipped_whatever_happens(item):
            return None
        cls = django_test_class(item)
        if cls is not None:  # Django's test class: its databases, whatever markers say
            return class_declaration(cls, self.specs)
        return next((found for source in self.declaration_sources if (found := source(item)) is not None), None)

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
        made = self.session.provisioned
        new = [alias for alias in self.needed if alias not in made and alias not in self.announced]
        self.announced.update(new)
        lines = []
        for alias in new:
            with suppress(ProvisionError):  # a bad kind is reported by the provisioning itself
                lines.append(DatabaseSession.announcement(alias, self.aliases.kind(alias)))
        return lines

    # -- the session's databases ------------------------------------------------------------------------------

    def start_session(self, tmp_dir: Callable[[], Path], report: Callable[[str], None]) -> DatabaseSession:
        """The session's databases, ready to provision (nothing is made yet)."""
        self.session.start(SessionOptions.from_config(self.config), tmp_dir, report)
        self.session.announced = self.announced
        return self.session

    # -- tests ------------------------------------------------------------------------------------------------

    def test_databases(self, item: pytest.Item) -> TestDatabases:
        """The per-test state of ``item`` (its guard scope starts now)."""
        found = item.stash.get(DECLARATION_KEY, None)
        return TestDatabases(item.nodeid, self.guard, self.aliases, self.session.state,
                             reset_sequences=bool(found and found.reset_sequences),
                             hold_autocommit=not self.session.options.autocommit_each_test)
