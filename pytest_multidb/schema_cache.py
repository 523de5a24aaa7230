"""Schema cache: a built test schema is reused by later sessions and by xdist workers.

Each alias's schema is keyed by a fingerprint of its models, its migration files, the routing settings and
the engine; any change gives a new fingerprint and a fresh build. How a schema is kept depends on the vendor:

- sqlite: a copy of the built database file;
- PostgreSQL: a template database on the same server (``CREATE DATABASE ... TEMPLATE``);
- MariaDB/MySQL: the tables' ``SHOW CREATE TABLE`` DDL and the ``django_migrations`` rows, replayed.

The cache lives in pytest's cache directory (``.pytest_cache/d/multidb``); ``--multidb-rebuild`` ignores and
replaces it; with ``-p no:cacheprovider`` it lives in ``$MULTIDB_CACHE_DIR`` (``bootstrap.schema_cache_dir``).

PostgreSQL templates live on the server, beside other projects' and other runs' databases: the names of the
templates this cache created are kept in ``templates.json`` in the cache directory (written before the template
is made), and an older template is dropped only by its exact name from there, never by a name pattern.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from django.db import DatabaseError, connections
from filelock import FileLock

from .cache_index import cache_index, server_of
from .fingerprint import fingerprint
from .footprint import Policy, cache_stamp, claimed, sweep
from .messages import run as texts
from .provision.base import fit_name
from .provision.owner import STAMP_PREFIX
from .provision.server import read_stamp, server_label, stamp_database

TEMPLATE_PREFIX = "multidb_tpl_"


def _template_prefix(real_name: str) -> str:
    """Templates of one configured database share this prefix (the index tells which ones are older)."""
    return fit_name(f"{TEMPLATE_PREFIX}{real_name[:24]}", "_" + "f" * 16)[:-16]  # room for the fingerprint


def _sqlite_store(alias: str, key: str, directory: Path, real_name: str) -> bool:
    connections[alias].close()
    target = directory / f"{key}.sqlite3"
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(connections.settings[alias]["NAME"], tmp)
    tmp.replace(target)
    return True


def _sqlite_restore(alias: str, key: str, directory: Path, real_name: str) -> bool:
    source = directory / f"{key}.sqlite3"
    if not source.exists():
        return False
    connections[alias].close()
    shutil.copyfile(source, connections.settings[alias]["NAME"])
    return True


def _postgresql_store(alias: str, key: str, directory: Path, real_name: str) -> bool:
    """Make the template of this schema; drop the templates of earlier schemas this cache made (exact names)."""
    conn = connections[alias]
    conn.close()
    prefix, name = _template_prefix(real_name), conn.settings_dict["NAME"]
    template, server = prefix + key.rpartition("-")[2], server_of(conn.settings_dict)
    quote = conn.ops.quote_name
    with cache_index(directory) as index, conn.creation._nodb_cursor() as cursor:
        stamp, entries = cache_stamp(index["id"], directory), index["templates"]
        ours = [entry for entry in entries if entry["server"] == server and entry["name"].startswith(prefix)]
        for entry in ours:  # templates of earlier schemas of this database (and of this one, on rebuild)
            exists, found = read_stamp(conn, cursor, entry["name"])
            if exists and found == stamp:
                try:
                    cursor.execute(f"DROP DATABASE {quote(entry['name'])}")
                except DatabaseError:
                    continue  # in use by another run cloning it: kept in the index, dropped another time
            entries.remove(entry)  # dropped, gone, or not ours after all (then left alone)
        entry = claimed({"server": server, "name": template}, real_name)
        entries.append(entry)  # recorded before it is made
        try:
            cursor.execute(f"CREATE DATABASE {quote(template)} TEMPLATE {quote(name)}")
        except DatabaseError:
            # Another cache (a checkout of the same project, a concurrent run) made this very schema's template,
            # before us or at the same moment (PostgreSQL's name check is not atomic with its creation, so asking
            # first would still race): use theirs, and record nothing, so nothing of ours ever touches it.
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
            if cursor.fetchone() is None:
                raise
            entries.remove(entry)
            return True
        stamp_database(conn, cursor, template, stamp)
    return True


def touch_template(key: str, directory: Path, real_name: str) -> None:
    """Mark this cache's template of ``key`` as claimed now (its age counts from its last use)."""
    template = _template_prefix(real_name) + key.rpartition("-")[2]
    with cache_index(directory) as index:
        index["templates"] = [claimed(entry, real_name) if entry["name"] == template else entry
                              for entry in index["templates"]]


def _postgresql_restore(alias: str, key: str, directory: Path, real_name: str) -> bool:
    conn = connections[alias]
    conn.close()
    template, name = _template_prefix(real_name) + key.rpartition("-")[2], conn.settings_dict["NAME"]
    quote = conn.ops.quote_name
    with conn.creation._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
        if cursor.fetchone() is None:
            return False
        # The provisioner made this run's test database, empty; make it again as a copy of the template, and
        # carry its stamp over (a database made from a template has no comment).
        exists, stamp = read_stamp(conn, cursor, name)
        if not exists or stamp is None or not stamp.startswith(STAMP_PREFIX):
            raise RuntimeError(texts.NOT_STAMPED.format(name=name, alias=alias))
        cursor.execute(f"DROP DATABASE {quote(name)}")
        cursor.execute(f"CREATE DATABASE {quote(name)} TEMPLATE {quote(template)}")
        stamp_database(conn, cursor, name, stamp)
    return True


def _mysql_store(alias: str, key: str, directory: Path, real_name: str) -> bool:
    conn = connections[alias]
    quote = conn.ops.quote_name
    tables = conn.introspection.table_names()
    with conn.cursor() as cursor:
        ddl = []
        for table in tables:
            if table != "django_migrations":
                cursor.execute(f"SELECT 1 FROM {quote(table)} LIMIT 1")
                if cursor.fetchone():
                    return False  # data migrations wrote rows: replaying DDL would lose them, so no cache
            cursor.execute(f"SHOW CREATE TABLE {quote(table)}")
            ddl.append(cursor.fetchone()[1])
        rows = []
        if "django_migrations" in tables:
            # With their ids: the table's DDL carries its AUTO_INCREMENT past them, so rows inserted without
            # would get new ones (a migrated database's are 1, 2, ...).
            cursor.execute("SELECT id, app, name, applied FROM django_migrations")
            rows = [[pk, app, name, str(applied)] for pk, app, name, applied in cursor.fetchall()]
    (directory / f"{key}.mysql.json").write_text(json.dumps({"ddl": ddl, "migrations": rows}))
    return True


def _mysql_restore(alias: str, key: str, directory: Path, real_name: str) -> bool:
    source = directory / f"{key}.mysql.json"
    if not source.exists():
        return False
    cached = json.loads(source.read_text())
    conn = connections[alias]
    with conn.constraint_checks_disabled(), conn.cursor() as cursor:
        for statement in cached["ddl"]:
            cursor.execute(statement)
        if cached["migrations"]:
            cursor.executemany("INSERT INTO django_migrations (id, app, name, applied) VALUES (%s, %s, %s, %s)",
                               cached["migrations"])
    return True


#: vendor -> (store, restore); vendors missing here are built every time.
Strategy = Callable[[str, str, Path, str], bool]  # (alias, key, cache directory, configured NAME)
STRATEGIES: dict[str, tuple[Strategy, Strategy]] = {
    "sqlite": (_sqlite_store, _sqlite_restore),
    "postgresql": (_postgresql_store, _postgresql_restore),
    "mysql": (_mysql_store, _mysql_restore),
}


#: (vendor, kind) pairs not worth caching: a PostgreSQL template lives on its server, and process and
#: container servers are new every session (unless xdist workers share one: then it is built once and cloned).
UNCACHED = {("postgresql", "process"), ("postgresql", "container")}


class SchemaCache:
    """Restores a cached schema into a fresh test database, or builds it and stores it for next time."""

    def __init__(self, directory: Path | None, rebuild: bool = False, policy: Policy | None = None) -> None:
        self.directory = directory
        self.rebuild = rebuild
        self.policy = policy or Policy()
        #: What the bound dropped after a template was stored (``footprint.sweep``), one line each.
        self.lines: list[str] = []

    def _locked(self, key: str) -> FileLock:
        """One builder per schema at a time (xdist workers, concurrent runs)."""
        assert self.directory is not None
        return FileLock(self.directory / f"{key}.lock")

    def key(self, alias: str, vendor: str, kind: str, migrations: bool, unmanaged: bool = False,
            shared: bool = False) -> str | None:
        """The cache key of ``alias``'s schema, or ``None`` when it is not cached (``shared``: its server is
        shared by xdist workers, so a template on it serves the run's other workers)."""
        if self.directory is None or vendor not in STRATEGIES or ((vendor, kind) in UNCACHED and not shared):
            return None
        return f"{vendor}-{fingerprint(alias, migrations, unmanaged)}"

    def clone_source(self, key: str | None, real_name: str) -> str | None:
        """For PostgreSQL: the template database a provisioner may create the test database from."""
        if key is None or self.rebuild or not key.startswith("postgresql-"):
            return None
        return _template_prefix(real_name) + key.rpartition("-")[2]

    def install(self, alias: str, key: str | None, build: Callable[[], None], real_name: str,
                cloned: bool = False) -> str:
        """Fill ``alias``'s fresh test database; returns ``"cached"`` or ``"built"``.

        ``cloned``: the provisioner already made the database from ``clone_source``'s template.
        """
        if cloned:
            if key is not None and key.startswith("postgresql-") and self.directory is not None:
                touch_template(key, self.directory, real_name)
            return "cached"
        if key is None:
            build()
            return "built"
        store, restore = STRATEGIES[key.partition("-")[0]]
        assert self.directory is not None
        with self._locked(key):
            if not self.rebuild and restore(alias, key, self.directory, real_name):
                if key.startswith("postgresql-"):
                    touch_template(key, self.directory, real_name)
                return "cached"
            build()
            if key.startswith("postgresql-"):  # a template is stored: first bound what stays on its server (the
                conn = connections[alias]      # template of a gone cache goes, and this cache makes its own)
                with conn.creation._nodb_cursor() as cursor:
                    self.lines += [f"{server_label(conn.vendor, conn.settings_dict)}: {line}"
                                   for line in sweep(conn, cursor, self.policy)]
            store(alias, key, self.directory, real_name)
        return "built"
