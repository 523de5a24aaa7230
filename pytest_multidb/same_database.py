"""Which aliases are one test database, and in which order to set them up, as Django's test runner decides.

- Aliases with the same server and database (Django's ``test_db_signature``: engine, host, port and test name)
  are one test database: the first one provisions it, the others join it (``setup_databases`` makes them
  "mirrors of the first").
- ``TEST["MIRROR"] = "other"``: the alias reads ``other``'s test database; nothing is made for it.
- ``TEST["DEPENDENCIES"]``: set up after those aliases; without it an alias depends on ``default``, as in
  Django's runner (``dependency_ordered``). Unlike there, an alias that no test needs is not a dependency to
  wait for, so a suite that never uses ``default`` needs no ``DEPENDENCIES: []`` workaround.

Django's functions are not called directly: they read ``connections`` (whose settings the session rewrites
while it provisions) and insist on ``default`` as every alias's dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import DEFAULT_DB_ALIAS

from .conf import ConfigurationError, DatabaseSpec
from .messages import settings as texts
from .settings_checks import did_you_mean


def in_memory_under_django(spec: DatabaseSpec) -> bool:
    """Whether Django's runner gives ``spec`` an in-memory sqlite test database (no TEST NAME, ``:memory:``,
    ``mode=memory``); ours is a file all the same (``provision/sqlite.py``)."""
    test_name = str(spec.test.get("NAME") or "")
    return spec.vendor == "sqlite" and (not test_name or test_name == ":memory:" or "mode=memory" in test_name)


def signature(spec: DatabaseSpec) -> tuple[str, ...]:
    """What identifies the database behind ``spec`` (Django's ``test_db_signature``)."""
    settings = spec.settings
    if spec.vendor == "sqlite":
        # Django's sqlite ``test_db_signature``: an in-memory test database is the alias's own, whatever its NAME.
        own = spec.alias if in_memory_under_django(spec) else str(spec.test.get("NAME"))
        return ("sqlite", str(settings.get("NAME", "")), own)
    return (spec.engine, str(settings.get("HOST") or ""), str(settings.get("PORT") or ""),
            str(spec.test.get("NAME") or settings.get("NAME") or ""))


def mirrors(specs: Mapping[str, DatabaseSpec]) -> dict[str, str]:
    """``{mirror alias: primary alias}`` from ``TEST["MIRROR"]``; a bad one is a ``ConfigurationError``."""
    found = {}
    for alias, spec in specs.items():
        primary = spec.test.get("MIRROR")
        if not primary:
            continue
        setting = spec.test_setting("MIRROR")
        if primary not in specs:
            raise ConfigurationError(alias, setting, texts.NOT_AN_ALIAS.format(name=primary),
                                     texts.USE_ONE_OF.format(known=", ".join(a for a in specs if a != alias)))
        if primary == alias or specs[primary].test.get("MIRROR"):
            raise ConfigurationError(alias, setting, texts.MIRROR_OF_MIRROR.format(primary=primary),
                                     texts.MIRROR_OF_MIRROR_FIX)
        found[alias] = primary
    return found


def check_dependencies(specs: Mapping[str, DatabaseSpec]) -> None:
    """Every ``TEST["DEPENDENCIES"]`` entry names an alias; else a ``ConfigurationError`` (with a near miss)."""
    for alias, spec in specs.items():
        for name in spec.test.get("DEPENDENCIES") or ():
            if name not in specs:
                others = ", ".join(a for a in specs if a != alias)
                raise ConfigurationError(alias, spec.test_setting("DEPENDENCIES"),
                                         texts.NOT_AN_ALIAS.format(name=name),
                                         did_you_mean(name, specs) + texts.USE_ONE_OF.format(known=others))


def dependency_order(aliases: Iterable[str], specs: Mapping[str, DatabaseSpec]) -> list[str]:
    """``aliases`` with each one after the aliases of its ``TEST["DEPENDENCIES"]`` that are among them."""
    pending = list(dict.fromkeys(aliases))
    wanted = set(pending)
    ordered: list[str] = []

    def dependencies(alias: str) -> set[str]:
        given = specs[alias].test.get("DEPENDENCIES")
        return set(given or ()) if given is not None else {DEFAULT_DB_ALIAS} - {alias}

    while pending:
        ready = next((a for a in pending if not (dependencies(a) & wanted - set(ordered) - {a})), None)
        if ready is None:
            raise ConfigurationError(
                pending[0], specs[pending[0]].test_setting("DEPENDENCIES"),
                texts.CIRCULAR_DEPENDENCY.format(aliases=", ".join(map(repr, pending))),
                texts.CIRCULAR_DEPENDENCY_FIX,
            )
        pending.remove(ready)
        ordered.append(ready)
    return ordered
