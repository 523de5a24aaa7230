"""One connection setting at a time: engine names and backends, types, ``TEST`` keys and near misses.

Each mistake is a ``ConfigurationError`` naming the alias, the setting, the problem and the fix. ``conf`` reads
whole settings into specs with these checks; nothing here knows about specs.
"""

from __future__ import annotations

import difflib
import functools
import importlib.machinery
import importlib.util
import pkgutil
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .messages import settings as texts

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

#: Dotted engine names Django's ``load_backend`` accepts for another backend (``django/db/utils.py``).
ENGINE_ALIASES: Mapping[str, str] = {
    "django.db.backends.postgresql_psycopg2": "django.db.backends.postgresql",
}

#: Keys of an ``OTHER_DATABASES`` entry that are ours, not Django's connection settings.
OWN_KEYS = ("MODELS",)

#: Django's connection settings (the keys of a ``DATABASES`` entry).
CONNECTION_KEYS = (
    "ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS", "TEST", "ATOMIC_REQUESTS", "AUTOCOMMIT",
    "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "TIME_ZONE", "DISABLE_SERVER_SIDE_CURSORS",
)

#: ``TEST`` keys: Django's (``django/db/utils.py``, the Oracle backend's) and ours.
TEST_KEYS = (
    "CHARSET", "COLLATION", "DEPENDENCIES", "MIGRATE", "MIRROR", "NAME", "SERIALIZE", "TEMPLATE", "CREATE_DB",
    "CREATE_USER", "USER", "PASSWORD", "TBLSPACE", "TBLSPACE_TMP", "DATAFILE", "DATAFILE_TMP", "DATAFILE_MAXSIZE",
    "DATAFILE_TMP_MAXSIZE", "DATAFILE_SIZE", "DATAFILE_TMP_SIZE", "DATAFILE_EXTSIZE", "DATAFILE_TMP_EXTSIZE",
    "PROVISION", "IMAGE", "UNMANAGED",
)

#: How to install the database driver of each built-in backend that needs one, by the backend's last part.
DRIVER_FIXES: Mapping[str, str] = {
    "postgresql": texts.POSTGRESQL_DRIVER_FIX,
    "mysql": texts.MYSQL_DRIVER_FIX,
    "oracle": texts.ORACLE_DRIVER_FIX,
}

#: The values of ``TEST["UNMANAGED"]`` (and ``--multidb-unmanaged``): make unmanaged models' tables or not.
UNMANAGED_MODES = ("create", "skip")

#: Settings of a connection that must be dicts when given.
DICT_KEYS = ("OPTIONS", "TEST")


class ConfigurationError(ImproperlyConfigured):
    """A multi-database setting is wrong. The message names the alias, the setting and the fix."""

    def __init__(self, alias: str | None, setting: str, problem: str, fix: str) -> None:
        self.alias, self.setting, self.problem, self.fix = alias, setting, problem, fix
        where = setting if alias is None else texts.SETTING_OF_ALIAS.format(setting=setting, alias=alias)
        super().__init__(texts.CONFIGURATION_ERROR.format(where=where, problem=problem, fix=fix))


@functools.cache
def backend_vendor(engine: str) -> str:
    """``DatabaseWrapper.vendor`` of ``engine`` (GIS and third-party backends say which database they run on);
    without an importable backend (its driver is missing here), read from the engine's last dotted part."""
    from django.db.utils import load_backend

    try:
        return load_backend(engine).DatabaseWrapper.vendor
    except Exception:  # any import failure (ImproperlyConfigured, ImportError): fall back to the name
        tail = ENGINE_ALIASES.get(engine, engine).rsplit(".", 1)[-1]
        return {"sqlite3": "sqlite"}.get(tail, tail)


def backend_exists(engine: str) -> bool:
    """Whether ``engine`` is a package with a ``base`` module, as Django's ``load_backend`` needs.

    Only looks for the files: the backend (and its database driver) is not imported.
    """
    try:
        spec = importlib.util.find_spec(engine)
    except (ImportError, ValueError):  # a parent package is missing
        return False
    if spec is None or spec.submodule_search_locations is None:
        return False
    return importlib.machinery.PathFinder.find_spec(f"{engine}.base", list(spec.submodule_search_locations)) is not None


def builtin_backends() -> list[str]:
    """Django's own backends (``django.db.backends.sqlite3``, ...), found without importing them."""
    import django.db.backends

    return sorted(
        f"django.db.backends.{module.name}"
        for module in pkgutil.iter_modules(django.db.backends.__path__)
        if module.ispkg and module.name not in ("base", "dummy")
    )


def suggested_backend(engine: str, known: list[str]) -> str | None:
    """The backend ``engine`` probably means: itself without ``.base``, or the built-in backend that its last
    part is a typo or an old name of."""
    if engine.endswith(".base") and backend_exists(engine[: -len(".base")]):
        return engine[: -len(".base")]
    tail = engine.rsplit(".", 1)[-1]
    if tail in SHORT_ENGINES:
        return SHORT_ENGINES[tail]
    tails = {name.rsplit(".", 1)[-1]: name for name in known}
    close = difflib.get_close_matches(tail, tails, n=1)
    return tails[close[0]] if close else None


def check_engine(alias: str, setting: str, engine: object) -> str:
    """Return ``engine`` if it names an installed backend, else raise ConfigurationError for ``setting``."""
    if not isinstance(engine, str):
        raise ConfigurationError(alias, setting, texts.ENGINE_NOT_A_STRING.format(engine=engine),
                                 texts.ENGINE_NOT_A_STRING_FIX)
    if backend_exists(ENGINE_ALIASES.get(engine, engine)):
        return engine
    known = builtin_backends()
    meant = suggested_backend(engine, known)
    fix = texts.NO_BACKEND_MEANT_FIX if meant else texts.NO_BACKEND_FIX
    raise ConfigurationError(
        alias, setting, texts.NO_BACKEND.format(engine=engine), fix.format(meant=meant, known=", ".join(known)),
    )


def normalize_engine(alias: str, setting: str, engine: object) -> str:
    """Return the dotted backend path for ``engine`` (a short name or a dotted path of an installed backend)."""
    where = f"OTHER_DATABASES[{alias!r}][{setting!r}]"
    if not isinstance(engine, str) or "." in engine:
        return check_engine(alias, where, engine)
    if engine in SHORT_ENGINES:
        return SHORT_ENGINES[engine]
    known = ", ".join(sorted(SHORT_ENGINES))
    raise ConfigurationError(
        alias,
        where,
        texts.UNKNOWN_ENGINE.format(engine=engine),
        texts.UNKNOWN_ENGINE_FIX.format(known=known),
    )


def check_connection_value(alias: str, where: str, key: str, modern: str, value: object) -> None:
    """Type checks of one connection setting (``key`` as written, ``modern`` its ``DATABASES`` name)."""
    setting = f"{where}[{key!r}]"
    if modern in DICT_KEYS and not isinstance(value, Mapping):
        fix = texts.TEST_NOT_A_DICT_FIX if modern == "TEST" else texts.OPTIONS_NOT_A_DICT_FIX
        raise ConfigurationError(alias, setting, texts.SETTING_NOT_A_DICT.format(value=value), fix.format(key=key))
    if modern == "TEST":
        check_test_keys(alias, setting, value)
    if modern == "TEST" and value.get("PROVISION") is not None and not isinstance(value["PROVISION"], str):
        raise ConfigurationError(
            alias, f"{setting}['PROVISION']", texts.PROVISION_NOT_A_NAME.format(value=value["PROVISION"]),
            texts.PROVISION_NOT_A_NAME_FIX,
        )
    if modern == "TEST" and value.get("UNMANAGED") is not None and value["UNMANAGED"] not in UNMANAGED_MODES:
        raise ConfigurationError(
            alias, f"{setting}['UNMANAGED']", texts.UNKNOWN_UNMANAGED.format(value=value["UNMANAGED"]),
            texts.UNKNOWN_UNMANAGED_FIX.format(modes=", ".join(map(repr, UNMANAGED_MODES))),
        )


def check_test_keys(alias: str, setting: str, test: Mapping[str, Any]) -> None:
    """A near miss of a ``TEST`` key (``PROVISON``), and ``DEPENDENCIES`` that is not a list of aliases."""
    for key in test:
        meant = near_miss(key, TEST_KEYS)
        if meant is not None:
            raise ConfigurationError(alias, f"{setting}[{key!r}]", texts.UNKNOWN_KEY.format(key=key, meant=meant),
                                     texts.UNKNOWN_KEY_FIX.format(meant=meant))
    dependencies = test.get("DEPENDENCIES")
    if dependencies is not None and (isinstance(dependencies, str) or not isinstance(dependencies, (list, tuple))
                                     or not all(isinstance(name, str) for name in dependencies)):
        fix = texts.DEPENDENCIES_ONE_ALIAS_FIX if isinstance(dependencies, str) else texts.DEPENDENCIES_NOT_A_LIST_FIX
        raise ConfigurationError(alias, f"{setting}['DEPENDENCIES']",
                                 texts.DEPENDENCIES_NOT_A_LIST.format(value=dependencies),
                                 fix.format(value=dependencies))


def near_miss(name: object, known: tuple[str, ...]) -> str | None:
    """The entry of ``known`` that ``name`` is a near miss of (a typo, any case), if any; ``None`` for a known name."""
    if not isinstance(name, str) or name in known:
        return None
    close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.8)
    return close[0] if close else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"did you mean 'default'? "`` for a near miss among ``known`` (an alias typo), else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return texts.DID_YOU_MEAN.format(name=close[0]) if close else ""


def check_database(alias: str, entry: object) -> None:
    """Validate one ``DATABASES`` entry before Django reads it (wrong types crash deep inside Django)."""
    where = f"DATABASES[{alias!r}]"
    if not isinstance(entry, Mapping):
        raise ConfigurationError(alias, where, texts.ENTRY_NOT_A_DICT.format(type_name=type(entry).__name__),
                                 texts.ENTRY_NOT_A_DICT_FIX)
    for key, value in entry.items():
        check_connection_value(alias, where, key, key, value)
    if entry.get("ENGINE"):  # none or empty: Django's dummy backend
        check_engine(alias, f"{where}['ENGINE']", entry["ENGINE"])


def misspelled_key(key: object) -> str | None:
    """The known ``OTHER_DATABASES`` key that ``key`` is a near miss of (``'MODEL'`` -> ``'MODELS'``)."""
    return near_miss(key, (*OWN_KEYS, *CONNECTION_KEYS, *OLD_KEYS))


def check_driver(alias: str, engine: str) -> None:
    """Load the backend of ``alias`` (and its driver); a missing driver is a ConfigurationError.

    Only for ``default``: Django loads its backend while importing the models anyway. The other aliases'
    drivers are loaded when they are first needed.
    """
    from django.db.utils import load_backend

    try:
        load_backend(engine)
    except ImproperlyConfigured as error:
        vendor = engine.rsplit(".", 1)[-1]
        raise ConfigurationError(
            alias, f"DATABASES[{alias!r}]['ENGINE']",
            texts.DRIVER_MISSING.format(engine=engine, error=" ".join(str(error).split())),
            DRIVER_FIXES.get(vendor) or texts.OTHER_DRIVER_FIX.format(engine=engine),
        ) from error
