"""The run's aliases and what is known of each before anything is made: built once from the config.

As pytest's ``TempPathFactory.from_config``: ``Aliases.from_config`` reads the settings (``DATABASES`` and
``OTHER_DATABASES``, a deep copy: the session points ``connections.settings`` at test databases and puts these
back) and the options (``--multidb-provision``, ``--multidb-unmanaged``) once. The run object owns it and hands
it to the session (provisioning) and to each test's isolation (mirrors, read-only aliases).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import pytest

from .conf import ConfigurationError, DatabaseSpec, database_specs
from .messages import run as texts
from .provision import ProvisionError, select_kind
from .provision.base import EXISTING
from .same_database import check_dependencies, mirrors
from .unmanaged import creates, tables, unmanaged_models


def provision_requests(entries: Iterable[str], aliases: Iterable[str]) -> dict[str, str]:
    """``--multidb-provision ALIAS=KIND`` entries as ``{alias: kind}``; a usage error for a bad entry."""
    known = list(aliases)
    requested = {}
    for entry in entries:
        alias, sep, kind = entry.partition("=")
        if not sep or not alias or not kind:
            raise pytest.UsageError(texts.PROVISION_ENTRY_MALFORMED.format(entry=entry))
        if alias not in known:
            raise pytest.UsageError(texts.PROVISION_ENTRY_UNKNOWN_ALIAS.format(entry=entry, alias=alias,
                                                                               known=", ".join(known)))
        requested[alias] = kind
    return requested


@dataclass(frozen=True)
class Aliases:
    """Every configured alias: its settings as configured, its mirror, its kind, whether it is read-only."""

    #: alias -> its spec, the settings as configured (never the test database's).
    specs: Mapping[str, DatabaseSpec]
    #: ``TEST["MIRROR"]`` aliases -> their primary.
    mirrors: Mapping[str, str]
    #: ``--multidb-provision ALIAS=KIND``.
    provision: Mapping[str, str]
    #: ``--multidb-unmanaged``: ``create`` / ``skip`` for every alias (else each alias's ``TEST["UNMANAGED"]``).
    unmanaged: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Aliases:
        """Read the settings and the options; a bad mirror, dependency or ``--multidb-provision`` is a usage
        error before anything is made."""
        specs = {alias: DatabaseSpec(alias, copy.deepcopy(spec.settings), spec.models, spec.from_other_databases,
                                     copy.deepcopy(dict(spec.test)))
                 for alias, spec in database_specs().items()}
        try:
            found = mirrors(specs)
            check_dependencies(specs)
        except ConfigurationError as error:
            raise pytest.UsageError(texts.PREFIXED.format(line=error)) from None
        options = config.known_args_namespace
        requested = provision_requests(getattr(options, "multidb_provision", None) or [], specs)
        return cls(specs, found, requested, getattr(options, "multidb_unmanaged", None))

    def __iter__(self):
        return iter(self.specs)

    def __contains__(self, alias: object) -> bool:
        return alias in self.specs

    def kind(self, alias: str) -> str:
        """How ``alias``'s test database is made (``provision/``); a ``ProvisionError`` for a bad one."""
        return select_kind(self.specs[alias], self.provision)

    def kind_or_none(self, alias: str) -> str | None:
        """``kind``, or ``None`` where it is bad (the provisioning reports that itself)."""
        try:
            return self.kind(alias)
        except ProvisionError:
            return None

    @cached_property
    def read_only(self) -> frozenset[str]:
        """``TEST["PROVISION"] = "existing"`` aliases: their real databases, read-only in tests."""
        # Read from the request and the setting, as ``select_kind`` reads them for ``existing``: not through
        # ``kind``, which needs each alias's backend (its driver imported: ~0.15 s for PostgreSQL and MySQL in a
        # run whose tests use only sqlite).
        return frozenset(alias for alias, spec in self.specs.items() if alias not in self.mirrors
                         and (self.provision.get(alias) or spec.test.get("PROVISION")) == EXISTING)

    def creates_unmanaged(self, alias: str) -> bool:
        """Whether ``alias``'s test database gets the tables of its unmanaged models."""
        return creates(self.specs[alias].test, self.unmanaged) and alias not in self.read_only

    def unmanaged_tables(self, alias: str) -> list[str]:
        """The tables made for ``alias``'s unmanaged models (none unless it creates them)."""
        return tables(unmanaged_models(alias)) if self.creates_unmanaged(alias) else []

    def setting_notes(self) -> list[str]:
        """Settings Django takes that mean something else here: one header line each."""
        notes = []
        read_only = self.read_only
        for alias, spec in self.specs.items():
            if alias in read_only or alias in self.mirrors:
                continue
            test_name = str(spec.test.get("NAME") or "")
            if spec.vendor == "sqlite" and test_name and test_name != ":memory:" and "mode=memory" not in test_name:
                notes.append(texts.NOTE_SQLITE_TEST_NAME.format(alias=alias, test_name=test_name))
            elif spec.vendor not in ("sqlite", "dummy", "") and not spec.settings.get("NAME") and not test_name:
                setting = "OTHER_DATABASES" if spec.from_other_databases else "DATABASES"
                notes.append(texts.NOTE_EMPTY_NAME.format(alias=alias, setting=setting))
        return notes
