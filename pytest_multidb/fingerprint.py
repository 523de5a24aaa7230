"""The fingerprint of an alias's test schema: a hash of everything that shapes it.

The alias, its models (fields, indexes, constraints), its migration files and the data files beside them, the
routing settings and the routers' source, and the engine. Any change gives a new fingerprint, so the schema cache
(``schema_cache.py``) and warm databases (``warm.py``) build afresh. What does not change within a run (each
model's shape, the migrations on disk) is read once per run, not once per alias.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import django
from django.conf import settings as django_settings
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.writer import MigrationWriter
from django.utils.functional import LazyObject

from .alias_models import migratable_models
from .conf import model_selectors
from .unmanaged import unmanaged_models

#: Part of every fingerprint: a new value rebuilds every cached schema and warm database (2: warm databases of
#: earlier versions were kept with their id counters where their last session left them).
CACHE_VERSION = "2"

#: Folders of an app whose files a data migration may read: ``migrations/`` (a JSON seed beside the migration)
#: and ``fixtures/`` (``loaddata`` in a migration).
DATA_FOLDERS = ("migrations", "fixtures")


@functools.cache
def _model_shape(model: Any) -> str:
    """What of ``model`` shapes its tables: each field's name, column (a many-to-many field's table) and definition
    (as a migration would hold it, which leaves the name out), its table's name, tablespace and comment, its indexes
    and constraints."""
    opts = model._meta
    fields = [(f.name, f.column, _serialized(f)) for f in opts.local_fields]
    fields += [(f.name, f.m2m_db_table(), _serialized(f)) for f in opts.local_many_to_many]
    return repr((opts.label_lower, opts.db_table, opts.db_tablespace, getattr(opts, "db_table_comment", None),
                 fields, [_serialized(part) for part in (opts.unique_together, opts.indexes, opts.constraints)]))


def _serialized(value: Any) -> str:
    """``value`` as a migration would hold it, part by part: what can be deconstructed (a field, an index, a ``Q``)
    by its path and arguments, containers by their items, anything else by Django's migration serializer.

    A lazy object (a ``LazyObject`` storage) by its type, never evaluated: the serializer would evaluate it, and a
    test may check that nothing has (Django's ``file_storage`` tests). What the serializer cannot write (a lambda
    default: a model without migrations may have one, and Django's runner builds it) by its type and name, which
    are the same in every run."""
    if isinstance(value, LazyObject):
        return f"<lazy {type(value).__module__}.{type(value).__qualname__}>"
    if hasattr(value, "deconstruct") and not isinstance(value, type):
        path, args, kwargs = value.deconstruct()[-3:]  # a field's starts with its name
        return repr((path, [_serialized(a) for a in args], {k: _serialized(v) for k, v in sorted(kwargs.items())}))
    if isinstance(value, (list, tuple)):
        return repr([_serialized(item) for item in value])
    if isinstance(value, (set, frozenset)):
        return repr(sorted(_serialized(item) for item in value))
    if isinstance(value, dict):
        return repr({str(key): _serialized(item) for key, item in value.items()})
    try:
        return MigrationWriter.serialize(value)[0]
    except ValueError:
        pass
    kind, name = type(value), f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
    return f"<{kind.__module__}.{kind.__qualname__} {name}>"


@functools.cache
def _router_sources() -> str:
    """A digest of the source files of the ``DATABASE_ROUTERS`` modules (read once per run): what ``allow_migrate``
    returns decides what is built where."""
    digest = hashlib.sha256()
    for router in django_settings.DATABASE_ROUTERS:
        module = router.rpartition(".")[0] if isinstance(router, str) else type(router).__module__
        path = getattr(sys.modules.get(module), "__file__", None)
        if path is None:
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                spec = None
            path = spec.origin if spec is not None else None
        try:
            digest.update(repr((module, Path(path).read_bytes() if path else None)).encode())
        except OSError:
            digest.update(repr((module, None)).encode())
    return digest.hexdigest()


@functools.cache
def _migration_files() -> str:
    """A digest of every migration package's files on disk and the data files beside them (read once per run).

    Read as files, not imported: Django's ``MigrationLoader`` would import every migration module, which a run
    that restores its schemas from the cache never needs (the keys of a 4-alias warm start: 31-59 ms imported,
    11-20 ms read). Every file of the package is read (``__init__.py`` and modules Django would skip too: a change
    there rebuilds, harmless).
    """
    digest = hashlib.sha256()
    migrated = []
    for label, folder in _migration_packages():
        migrated.append(label)
        for path in sorted(folder.iterdir()):
            if path.is_file():
                digest.update(repr((label, path.name, path.read_bytes())).encode())
    for path in migration_data_files(migrated):
        digest.update(repr((str(path), path.read_bytes())).encode())
    return digest.hexdigest()


def _migration_packages() -> list[tuple[str, Path]]:
    """(app label, folder) of each app's migrations package, found as ``MigrationLoader.load_disk`` finds it
    (``MIGRATION_MODULES`` honoured; a plain module or a namespace package holds no migrations), without importing
    it: ``importlib.util.find_spec`` imports only the packages above it (the app's own, imported already)."""
    from django.apps import apps

    found = []
    for config in apps.get_app_configs():
        name, _explicit = MigrationLoader.migrations_module(config.label)
        if name is None:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # a missing parent package; a module without a spec
            continue
        if spec is None or spec.submodule_search_locations is None or spec.origin in (None, "namespace"):
            continue
        found += [(config.label, Path(location)) for location in spec.submodule_search_locations]
    return found


def fingerprint(alias: str, migrations: bool, unmanaged: bool = False) -> str:
    """A hash of everything that shapes ``alias``'s test schema (``unmanaged``: its unmanaged models' tables too)."""
    settings = connections.settings[alias]
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode())

    # The alias too: a data migration may do something on one alias only (``if schema_editor.connection.alias !=
    # "default": return``, as Django's documentation writes it), so two aliases of one schema are built apart.
    add(CACHE_VERSION, django.VERSION, alias, settings["ENGINE"], settings.get("HOST"), str(settings.get("PORT")),
        migrations, sorted(model_selectors().items()),
        [r if isinstance(r, str) else type(r).__qualname__ for r in django_settings.DATABASE_ROUTERS],
        _router_sources())
    models = [*migratable_models(alias), *(unmanaged_models(alias) if unmanaged else [])]
    if unmanaged:
        add("unmanaged")
    for model in sorted(models, key=lambda m: m._meta.label_lower):
        add(_model_shape(model))
    if migrations:
        add(_migration_files())
    return digest.hexdigest()[:16]


def migration_data_files(app_labels: Iterable[str]) -> list[Path]:
    """The files other than Python modules under the ``DATA_FOLDERS`` of the migrated apps: a change to one that
    a data migration reads rebuilds the schema. Anything a migration reads from elsewhere is not seen
    (``--multidb-rebuild`` then)."""
    from django.apps import apps

    found = []
    for label in sorted(app_labels):
        try:
            root = Path(apps.get_app_config(label).path)
        except LookupError:
            continue
        for folder in DATA_FOLDERS:
            found += sorted(path for path in (root / folder).rglob("*") if path.is_file()
                            and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts)
    return found
