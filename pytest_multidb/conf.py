"""Settings -> database specs.

``OTHER_DATABASES`` entries (old ``DATABASE_*`` keys or modern keys) are turned into ordinary ``DATABASES``
aliases once, lazily, the way Django's ``ConnectionHandler`` resolves ``DATABASES``. Translation is driven by
the two tables below, not by branches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS

#: Old-style (Django < 1.2) connection keys and the modern key each one stands for.
OLD_KEYS: Mapping[str, str] = {
    "DATABASE_ENGINE": "ENGINE",
    "DATABASE_NAME": "NAME",
    "DATABASE_USER": "USER",
    "DATABASE_PASSWORD": "PASSWORD",
    "DATABASE_HOST": "HOST",
    "DATABASE_PORT": "PORT",
    "DATABASE_OPTIONS": "OPTIONS",
}

#: Short engine names accepted in ``ENGINE`` / ``DATABASE_ENGINE``.
SHORT_ENGINES: Mapping[str, str] = {
    "sqlite3": "django.db.backends.sqlite3",
    "postgresql": "django.db.backends.postgresql",
    "postgresql_psycopg2": "django.db.backends.postgresql",
    "postgres": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
}

#: Keys of an ``OTHER_DATABASES`` entry that are ours, not Django's connection settings.
OWN_KEYS = ("MODELS",)


class ConfigurationError(ImproperlyConfigured):
    """A multi-database setting is wrong. The message names the alias, the setting and the fix."""

    def __init__(self, alias: str | None, setting: str, problem: str, fix: str) -> None:
        self.alias, self.setting, self.problem, self.fix = alias, setting, problem, fix
        where = setting if alias is None else f"{setting} (alias {alias!r})"
        super().__init__(f"{where}: {problem}. Fix: {fix}.")


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

    @property
    def vendor(self) -> str:
        """``sqlite``, ``postgresql``, ``mysql`` or the engine's last dotted part."""
        return {"sqlite3": "sqlite"}.get(self.engine.rsplit(".", 1)[-1], self.engine.rsplit(".", 1)[-1])


def normalize_engine(alias: str, setting: str, engine: str) -> str:
    """Return the dotted backend path for ``engine`` (a short name or a dotted path)."""
    if "." in engine:
        return engine
    if engine in SHORT_ENGINES:
        return SHORT_ENGINES[engine]
    known = ", ".join(sorted(SHORT_ENGINES))
    raise ConfigurationError(
        alias,
        f"OTHER_DATABASES[{alias!r}][{setting!r}]",
        f"unknown engine {engine!r}",
        f"use one of {known} or a dotted backend path such as 'django.db.backends.postgresql'",
    )


def normalize_entry(alias: str, entry: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Translate one ``OTHER_DATABASES`` entry into a ``DATABASES`` entry and its ``MODELS`` selectors."""
    where = f"OTHER_DATABASES[{alias!r}]"
    if not isinstance(entry, Mapping):
        raise ConfigurationError(alias, where, f"expected a dict, got {type(entry).__name__}",
                                 "give the alias a dict of connection settings")
    result: dict[str, Any] = {}
    for key, value in entry.items():
        if key in OWN_KEYS:
            continue
        modern = OLD_KEYS.get(key, key)
        if modern in result:
            old = next(old for old, new in OLD_KEYS.items() if new == modern)
            raise ConfigurationError(
                alias, where, f"both {old!r} and {modern!r} are set",
                f"keep only one of them (prefer {modern!r})",
            )
        result[modern] = value
    if not result.get("ENGINE"):
        raise ConfigurationError(alias, where, "no ENGINE (or DATABASE_ENGINE) is set",
                                 "add 'ENGINE': 'django.db.backends.sqlite3' (or another backend)")
    setting = "DATABASE_ENGINE" if "DATABASE_ENGINE" in entry else "ENGINE"
    result["ENGINE"] = normalize_engine(alias, setting, result["ENGINE"])
    models = entry.get("MODELS", ())
    if isinstance(models, str) or not all(isinstance(m, str) for m in models):
        raise ConfigurationError(alias, f"{where}['MODELS']", f"expected a list of strings, got {models!r}",
                                 "write MODELS = ['app_label', 'app_label.Model']")
    return result, tuple(models)


def other_database_specs(settings: Any = django_settings) -> dict[str, DatabaseSpec]:
    """Read ``OTHER_DATABASES`` into specs; raise ConfigurationError for bad entries or alias clashes."""
    other = getattr(settings, "OTHER_DATABASES", None) or {}
    databases = getattr(settings, "DATABASES", {})
    specs = {}
    for alias, entry in other.items():
        conn, models = normalize_entry(alias, entry)
        if alias in databases and databases[alias] is not _merged.get(alias):
            raise ConfigurationError(
                alias, f"OTHER_DATABASES[{alias!r}]", "the alias is also defined in DATABASES",
                "rename one of them or define the connection in only one setting",
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
    for alias, entry in (getattr(settings, "OTHER_DATABASES", None) or {}).items():
        for selector in normalize_entry(alias, entry)[1]:
            key = selector.lower()
            if key in claimed and claimed[key] != alias:
                raise ConfigurationError(
                    alias, f"OTHER_DATABASES[{alias!r}]['MODELS']",
                    f"{selector!r} is also claimed by alias {claimed[key]!r}",
                    "list each app or model under one alias only",
                )
            claimed[key] = alias
    return claimed
