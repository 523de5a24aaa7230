"""The provisioner protocol, the registry of kinds and the choice of a kind per alias."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..conf import DatabaseSpec
from ..messages import provision as texts
from .registry import Registry

if TYPE_CHECKING:
    from .xdist import XdistRun

AUTO = "auto"
#: The kind that provisions nothing: the configured database, read-only (``existing.py``).
EXISTING = "existing"


class ProvisionError(Exception):
    """A database could not be provisioned. The message names the alias, the setting and the fix."""

    def __init__(self, alias: str, setting: str, problem: str, fix: str) -> None:
        self.alias, self.setting, self.problem, self.fix = alias, setting, problem, fix
        super().__init__(texts.PROVISION_ERROR.format(alias=alias, setting=setting, problem=problem, fix=fix))


@dataclass(frozen=True)
class ProvisionContext:
    """What a provisioner may use: a private temp dir, a unique run id, the xdist worker id, and the
    registry where every resource is recorded *before* it is made (see ``registry.py``)."""

    tmp_dir: Path
    run_id: str
    worker: str = ""
    registry: Registry = field(default_factory=Registry)
    #: alias -> a template database to create the test database from, if it exists (the schema cache's).
    templates: Mapping[str, str] = field(default_factory=dict)
    #: Under xdist: the run whose ``process`` / ``container`` servers serve every worker (``xdist.py``).
    xdist: XdistRun | None = None

    def test_name(self, name: str) -> str:
        """A test database name that cannot be a configured one: ``test_<name>_<run>[_<worker>]``, the name
        shortened (never the run and worker) to what every server takes."""
        return fit_name(f"test_{name or 'db'}", "".join(f"_{p}" for p in (self.run_id, self.worker) if p))

    def database_name(self, spec: DatabaseSpec) -> str:
        """``TEST["NAME"]`` (plus ``_<worker>`` under xdist) if set, else a unique ``test_name``."""
        if spec.test.get("NAME"):
            return fit_name(str(spec.test["NAME"]), f"_{self.worker}") if self.worker else str(spec.test["NAME"])
        return self.test_name(spec.settings.get("NAME", ""))


#: The longest database name every server keeps whole: PostgreSQL 63 bytes (longer ones are cut silently, so two
#: names that differ at their end would be one), MariaDB/MySQL 64 characters.
MAX_NAME_BYTES = 63


def fit_name(head: str, unique: str) -> str:
    """``head + unique`` within ``MAX_NAME_BYTES`` of UTF-8: ``head`` is shortened (at a character boundary), the
    ``unique`` part that tells runs, workers and slots apart is kept whole."""
    room = MAX_NAME_BYTES - len(unique.encode())
    return head.encode()[:room].decode("utf-8", "ignore") + unique


@dataclass
class Provisioned:
    """A database made for one alias: the connection settings to use and how to remove it."""

    alias: str
    kind: str
    settings: dict[str, Any]
    cleanup: Callable[[], None]
    seconds: float = 0.0
    install_seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    records: list[Path] = field(default_factory=list)
    #: Instead of ``cleanup``, keep the database for the next run (``warm.py``); ``None``: always removed.
    keep: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        return str(self.settings.get("NAME", ""))


class Provisioner(Protocol):
    """Makes one disposable database for an alias and knows how to remove it."""

    kind: ClassVar[str]

    def provision(self, spec: DatabaseSpec, context: ProvisionContext) -> Provisioned:
        """Create the database; return the settings that replace the alias's real ones."""
        ...


#: Kind name -> provisioner class. Each module below registers itself with ``register``.
PROVISIONERS: dict[str, type[Provisioner]] = {}


def register(cls: type[Provisioner]) -> type[Provisioner]:
    """Class decorator adding a provisioner kind to ``PROVISIONERS``."""
    PROVISIONERS[cls.kind] = cls
    return cls


#: The kind ``auto`` picks, by vendor.
AUTO_KINDS: Mapping[str, str] = {"sqlite": "sqlite"}
DEFAULT_AUTO_KIND = "server"


def select_kind(spec: DatabaseSpec, requested: Mapping[str, str]) -> str:
    """The kind for ``spec``: ``--multidb-provision ALIAS=KIND`` > ``TEST["PROVISION"]`` > auto."""
    kind = requested.get(spec.alias) or spec.test.get("PROVISION") or AUTO
    if kind == AUTO:
        kind = AUTO_KINDS.get(spec.vendor, DEFAULT_AUTO_KIND)
    if kind not in PROVISIONERS:
        raise ProvisionError(
            spec.alias, texts.KIND_SETTING, texts.UNKNOWN_KIND.format(kind=kind),
            texts.UNKNOWN_KIND_FIX.format(kinds=", ".join(["auto", *sorted(PROVISIONERS)])),
        )
    if kind != EXISTING and (kind == "sqlite") != (spec.vendor == "sqlite"):
        raise ProvisionError(
            spec.alias, texts.KIND_SETTING, texts.KIND_DOES_NOT_FIT.format(kind=kind, engine=spec.engine),
            texts.KIND_DOES_NOT_FIT_FIX,
        )
    return kind


def for_vendor(table: Mapping[str, Any], spec: DatabaseSpec, kind: str) -> Any:
    """The entry of ``table`` (one class per database kind) for the alias's vendor, or a clear error."""
    if spec.vendor not in table:
        raise ProvisionError(
            spec.alias, texts.PROVISION_SETTING.format(kind=kind),
            texts.KIND_CANNOT_RUN_ENGINE.format(kind=kind, engine=spec.engine),
            texts.KIND_CANNOT_RUN_ENGINE_FIX.format(vendors=" or ".join(sorted(table))),
        )
    return table[spec.vendor]


def timed(func: Callable[[], Provisioned]) -> Provisioned:
    """Run ``func`` and record how long it took on the result."""
    start = time.perf_counter()
    provisioned = func()
    provisioned.seconds = time.perf_counter() - start
    return provisioned
