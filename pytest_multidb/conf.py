"""Settings -> database specs.

``OTHER_DATABASES`` entries (old ``DATABASE_*`` keys or modern keys) are turned into ordinary ``DATABASES``
aliases once, lazily, the way Django's ``ConnectionHandler`` resolves ``DATABASES``. Translation is driven by
two tables (``settings_checks.OLD_KEYS``, ``SHORT_ENGINES``), not by branches; each value is checked there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS

from .messages import settings as texts
from .settings_checks import (
    OLD_KEYS,
    OWN_KEYS,
    ConfigurationError,
    backend_vendor,
    check_connection_value,
    check_database,
    check_driver,
    misspelled_key,
    normalize_engine,
)


@dataclass(frozen=True)
class DatabaseSpec:
    """One alias as pytest-multidb sees it: Django connection settings plus our own options."""

    alias: str
    settings: dict[str, Any]
    models: tuple[str, ...] = ()
    from_other_databases: bool = False
    test: Mapping[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return self.settings.get("ENGINE", "")

    def test_setting(self, key: str) -> str:
        """How the user wrote ``TEST[key]`` of this alias: ``OTHER_DATABASES['a']['TEST']['MIRROR']``."""
        where = "OTHER_DATABASES" if self.from_other_databases else "DATABASES"
        return f"{where}[{self.alias!r}]['TEST'][{key!r}]"

    @property
    def vendor(self) -> str:
        """The backend's ``vendor`` (``sqlite``, ``postgresql``, ``mysql``, ...), as Django's connection has it."""
        return backend_vendor(self.engine)


def normalize_entry(alias: str, entry: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Translate one ``OTHER_DATABASES`` entry into a ``DATABASES`` entry and its ``MODELS`` selectors."""
    where = f"OTHER_DATABASES[{alias!r}]"
    if not isinstance(entry, Mapping):
        raise ConfigurationError(alias, where, texts.ENTRY_NOT_A_DICT.format(type_name=type(entry).__name__),
                                 texts.ENTRY_NOT_A_DICT_FIX)
    result: dict[str, Any] = {}
    for key, value in entry.items():
        meant = misspelled_key(key)
        if meant is not None:
            raise ConfigurationError(alias, f"{where}[{key!r}]", texts.UNKNOWN_KEY.format(key=key, meant=meant),
                                     texts.UNKNOWN_KEY_FIX.format(meant=meant))
        if key in OWN_KEYS:
            continue
        modern = OLD_KEYS.get(key, key)
        if modern in result:
            old = next(old for old, new in OLD_KEYS.items() if new == modern)
            raise ConfigurationError(
                alias, where, texts.OLD_AND_NEW_KEY.format(old=old, modern=modern),
                texts.OLD_AND_NEW_KEY_FIX.format(modern=modern),
            )
        check_connection_value(alias, where, key, modern, value)
        result[modern] = value
    if not result.get("ENGINE"):
        raise ConfigurationError(alias, where, texts.NO_ENGINE, texts.NO_ENGINE_FIX)
    setting = "DATABASE_ENGINE" if "DATABASE_ENGINE" in entry else "ENGINE"
    result["ENGINE"] = normalize_engine(alias, setting, result["ENGINE"])
    models = entry.get("MODELS", ())
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) for m in models):
        raise ConfigurationError(alias, f"{where}['MODELS']", texts.MODELS_NOT_A_LIST.format(models=models),
                                 texts.MODELS_NOT_A_LIST_FIX)
    return result, tuple(models)


def other_databases(settings: Any = django_settings) -> Mapping[str, Any]:
    """The ``OTHER_DATABASES`` setting (empty when unset or ``None``); anything but a dict is an error."""
    other = getattr(settings, "OTHER_DATABASES", None) or {}
    if not isinstance(other, Mapping):
        raise ConfigurationError(
            None, "OTHER_DATABASES", texts.ALIASES_NOT_A_DICT.format(type_name=type(other).__name__),
            texts.OTHER_DATABASES_NOT_A_DICT_FIX.format(),
        )
    return other


def validate_settings(settings: Any = django_settings) -> None:
    """Check ``DATABASES`` and ``OTHER_DATABASES``; raise ConfigurationError for the first mistake.

    Runs before Django reads ``DATABASES`` (the AppConfig is created before any model is imported): a wrong
    type there would otherwise crash deep inside Django with a traceback.
    """
    databases = getattr(settings, "DATABASES", {})
    if not isinstance(databases, Mapping):
        raise ConfigurationError(
            None, "DATABASES", texts.ALIASES_NOT_A_DICT.format(type_name=type(databases).__name__),
            texts.DATABASES_NOT_A_DICT_FIX.format(),
        )
    if databases and DEFAULT_DB_ALIAS not in databases:
        raise ConfigurationError(
            None, "DATABASES", texts.NO_DEFAULT_ALIAS.format(default=DEFAULT_DB_ALIAS,
                                                             found=", ".join(map(repr, databases))),
            texts.NO_DEFAULT_ALIAS_FIX.format(default=DEFAULT_DB_ALIAS),
        )
    for alias, entry in databases.items():
        if _merged.get(alias) is not entry:  # the ones merged from OTHER_DATABASES are checked there
            check_database(alias, entry)
    if databases.get(DEFAULT_DB_ALIAS, {}).get("ENGINE"):
        check_driver(DEFAULT_DB_ALIAS, databases[DEFAULT_DB_ALIAS]["ENGINE"])
    other_database_specs(settings)


def other_database_specs(settings: Any = django_settings) -> dict[str, DatabaseSpec]:
    """Read ``OTHER_DATABASES`` into specs; raise ConfigurationError for bad entries or alias clashes."""
    other = other_databases(settings)
    databases = getattr(settings, "DATABASES", {})
    specs = {}
    for alias, entry in other.items():
        conn, models = normalize_entry(alias, entry)
        if alias in databases and databases[alias] is not _merged.get(alias):
            raise ConfigurationError(
                alias, f"OTHER_DATABASES[{alias!r}]", texts.ALIAS_DEFINED_TWICE, texts.ALIAS_DEFINED_TWICE_FIX,
            )
        specs[alias] = DatabaseSpec(alias, conn, models, True, conn.get("TEST", {}))
    return specs


#: The DATABASES entries this module added, by alias, so merging twice is harmless.
_merged: dict[str, dict[str, Any]] = {}


def merge_other_databases(settings: Any = django_settings, handler: Any = None) -> dict[str, DatabaseSpec]:
    """Add every ``OTHER_DATABASES`` alias to ``DATABASES`` and to Django's connection handler.

    Works even when the handler already resolved its settings (something touched ``connections`` early):
    the new aliases get Django's own defaults through ``handler.configure_settings``.
    """
    if handler is None:
        from django.db import connections as handler
    specs = other_database_specs(settings)
    new = {}
    for alias, spec in specs.items():
        if alias in _merged and settings.DATABASES.get(alias) is _merged[alias]:
            continue
        settings.DATABASES[alias] = _merged[alias] = new[alias] = spec.settings
    if new and "settings" in handler.__dict__:
        resolved = handler.__dict__["settings"]
        if resolved is not settings.DATABASES:
            resolved.update(new)
        handler.configure_settings({DEFAULT_DB_ALIAS: resolved[DEFAULT_DB_ALIAS], **new})
    return specs


def database_specs(settings: Any = django_settings) -> dict[str, DatabaseSpec]:
    """Every configured alias (``DATABASES`` after merging) as a spec, in settings order."""
    merge_other_databases(settings)
    selectors = {alias: spec.models for alias, spec in other_database_specs(settings).items()}
    return {
        alias: DatabaseSpec(alias, conn, selectors.get(alias, ()), alias in selectors, conn.get("TEST", {}))
        for alias, conn in settings.DATABASES.items()
    }


def model_selectors(settings: Any = django_settings) -> dict[str, str]:
    """``{selector: alias}`` for every ``MODELS`` entry; a selector claimed by two aliases is an error."""
    claimed: dict[str, str] = {}
    for alias, entry in other_databases(settings).items():
        for selector in normalize_entry(alias, entry)[1]:
            key = selector.lower()
            if key in claimed and claimed[key] != alias:
                raise ConfigurationError(
                    alias, f"OTHER_DATABASES[{alias!r}]['MODELS']",
                    texts.SELECTOR_CLAIMED_TWICE.format(selector=selector, other=claimed[key]),
                    texts.SELECTOR_CLAIMED_TWICE_FIX,
                )
            claimed[key] = alias
    return claimed
