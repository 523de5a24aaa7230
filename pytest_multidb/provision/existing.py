"""``existing``: the alias stays pointed at its configured database, read-only in tests.

Nothing is made, so nothing is recorded or removed: no test database, no schema (no migrations, no cache), no
emptying. The configured database must exist: a server alias is connected to once here (a missing database, or a
server that does not answer, stops the run in one line), a sqlite alias must name an existing file, which its
connections open read-only (``file:...?mode=ro``: no statement can write to it). Every connection of the alias is
read-only from the moment it opens (``readonly.enforce``), every test's transaction on it is opened READ ONLY and
rolled back, and the statements that would end that transaction or lift the read-only mode are refused.

``header`` says, for the pytest header, whether the configured USER could write to the database: the session's
read-only mode holds against Django's code paths, a role without write privileges against everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any, ClassVar

from .. import readonly
from ..conf import DatabaseSpec
from ..messages import first_line
from ..messages import provision as texts
from .base import EXISTING, ProvisionContext, Provisioned, ProvisionError, register
from .server import where

KIND = EXISTING

#: Server databases: (sqlstate / error number, message fragment) of "the database does not exist".
MISSING_DATABASE = {"postgresql": ("3D000", re.compile(r'database ".*" does not exist')),
                    "mysql": (1049, re.compile(r"Unknown database"))}
VENDOR_NAMES = {"postgresql": "PostgreSQL", "mysql": "MariaDB/MySQL"}
#: Seconds the header's privilege check waits for a server.
CHECK_TIMEOUT = 5


def read_only_uri(name: str) -> str:
    """The URI that opens the sqlite file ``name`` read-only (sqlite then refuses every write, whatever a
    statement asks: ``PRAGMA query_only = OFF`` lifts nothing)."""
    return f"{Path(name).resolve().as_uri()}?mode=ro"


def _missing(vendor: str, error: BaseException) -> bool:
    """Whether ``error`` (connecting) says the configured database does not exist."""
    if vendor not in MISSING_DATABASE:
        return False
    code, said = MISSING_DATABASE[vendor]
    causes = [error, error.__cause__] if error.__cause__ is not None else [error]
    return any(getattr(cause, "sqlstate", None) == code or (getattr(cause, "args", None) or [None])[0] == code
               or said.search(str(cause)) is not None for cause in causes)


def check_database(spec: DatabaseSpec) -> None:
    """Connect once to the configured database of a server alias: a missing database or a server that does not
    answer is a ``ProvisionError`` (one line naming the alias, the setting and the fix), not the first test's."""
    from django.db import connections

    name, place = str(spec.settings.get("NAME") or ""), where(spec.settings)
    probe = connections.create_connection(spec.alias)
    try:
        probe.ensure_connection()
    except Exception as error:
        if _missing(spec.vendor, error):
            setting = "OTHER_DATABASES" if spec.from_other_databases else "DATABASES"
            raise ProvisionError(
                spec.alias, texts.EXISTING_NAME_SETTING.format(setting=setting, alias=spec.alias, kind=KIND),
                texts.EXISTING_DATABASE_MISSING.format(
                    name=name, vendor=VENDOR_NAMES.get(spec.vendor, spec.vendor), place=place),
                texts.EXISTING_DATABASE_MISSING_FIX,
            ) from None
        raise ProvisionError(
            spec.alias, texts.EXISTING_CONNECTION_SETTING.format(kind=KIND),
            texts.EXISTING_UNREACHABLE.format(name=name, place=place, error=first_line(error)),
            texts.EXISTING_UNREACHABLE_FIX,
        ) from None
    finally:
        with suppress(Exception):
            probe.close()


@register
class ExistingProvisioner:
    """The configured database itself; made read-only, never created, migrated, emptied or dropped."""

    kind: ClassVar[str] = KIND

    def provision(self, spec: DatabaseSpec, context: ProvisionContext) -> Provisioned:
        name = str(spec.settings.get("NAME") or "")
        settings = dict(spec.settings)
        if spec.vendor == "sqlite":
            if not name or name == ":memory:" or name.startswith("file:") or not Path(name).is_file():
                # sqlite would create a missing file: refuse instead of making a database that is not "existing".
                raise ProvisionError(spec.alias, texts.EXISTING_FILE_SETTING.format(kind=KIND),
                                     texts.NO_SQLITE_FILE.format(name=name), texts.NO_SQLITE_FILE_FIX)
            # NAME stays the path (the summary, the access guard); Django's sqlite backend passes OPTIONS on to
            # sqlite3.connect, where "database" replaces NAME (and it always connects with uri=True).
            settings["OPTIONS"] = {**(settings.get("OPTIONS") or {}), "database": read_only_uri(name)}
        elif spec.vendor in MISSING_DATABASE:
            check_database(spec)
        readonly.enforce(spec.alias)
        return Provisioned(spec.alias, self.kind, settings, lambda: readonly.release(spec.alias),
                           details={"read_only": True})


# -- the pytest header: may the configured USER write? ----------------------------------------------------------

#: PostgreSQL: superuser; write privileges on a table, CREATE in a schema, CREATE on the database.
PG_PRIVILEGES = """
SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT LIKE 'pg\\_%'
               AND n.nspname <> 'information_schema'
               AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')),
       EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
               AND has_schema_privilege(n.oid, 'CREATE')),
       has_database_privilege(current_database(), 'CREATE')
"""
PG_REASONS = ("a superuser", "INSERT/UPDATE/DELETE/TRUNCATE on a table", "CREATE in a schema",
              "CREATE on the database")
#: MariaDB/MySQL privileges that write (``SHOW GRANTS``).
MYSQL_WRITES = frozenset({"ALL", "ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX",
                          "CREATE VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "TRIGGER", "EVENT", "DELETE HISTORY",
                          "SUPER"})
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<target>\S+) TO ", re.I)


def _like(pattern: str, name: str) -> bool:
    """MySQL's ``LIKE`` match of a database name in a grant (``%``, ``_``, ``\\_``)."""
    regex = "".join(".*" if part == "%" else "." if part == "_" else re.escape(part.lstrip("\\"))
                    for part in re.findall(r"\\.|%|_|[^\\%_]+", pattern))
    return re.fullmatch(regex, name) is not None


def mysql_writes(grants: Iterable[str], database: str) -> list[str]:
    """The grants (``SHOW GRANTS`` lines) that let the user write to ``database``."""
    found = []
    for grant in grants:
        match = _GRANT.match(grant)
        if match is None:
            continue
        target = match["target"].split(".")[0].strip("`")
        privileges = {re.sub(r"\s*\(.*\)$", "", p).strip().upper() for p in match["privileges"].split(",")}
        if privileges & MYSQL_WRITES and (target == "*" or _like(target, database)):
            found.append(f"{', '.join(sorted(privileges & MYSQL_WRITES))} ON {match['target']}")
    return found


def write_privileges(conn: Any) -> list[str]:
    """What lets the connection's user write to its database (empty: nothing does)."""
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(PG_PRIVILEGES)
            held = [reason for reason, yes in zip(PG_REASONS, cursor.fetchone(), strict=True) if yes]
            return held[:1] if held[:1] == [PG_REASONS[0]] else held  # a superuser may do anything
        if conn.vendor == "mysql":
            cursor.execute("SHOW GRANTS")
            return mysql_writes([row[0] for row in cursor.fetchall()], conn.settings_dict["NAME"])
    return []


def privileges_line(alias: str, spec: DatabaseSpec) -> str:
    """The header line of one ``existing`` alias: who guarantees that tests cannot write to its database."""
    from django.db import connections

    if spec.vendor == "sqlite":
        return texts.EXISTING_SQLITE_READ_ONLY.format(alias=alias)
    user = spec.settings.get("USER") or texts.DEFAULT_USER
    probe = connections.create_connection(alias)
    if spec.vendor in MISSING_DATABASE:  # a server that does not answer: the header waits a few seconds only
        options = {"connect_timeout": CHECK_TIMEOUT, **(probe.settings_dict.get("OPTIONS") or {})}
        probe.settings_dict = {**probe.settings_dict, "OPTIONS": options}
    try:
        probe.ensure_connection()
        readonly.make_read_only(probe)
        writes = write_privileges(probe)
    except Exception:
        return texts.EXISTING_PRIVILEGES_UNKNOWN.format(alias=alias, user=user)
    finally:
        with suppress(Exception):
            probe.close()
    if not writes:
        return texts.EXISTING_NO_WRITE_PRIVILEGE.format(alias=alias, user=user)
    return texts.EXISTING_MAY_WRITE.format(alias=alias, user=user, privileges="; ".join(writes))


def header(aliases: Iterable[str], specs: dict[str, DatabaseSpec],
           opened: Callable[[Iterable[str]], AbstractContextManager[None]]) -> list[str]:
    """One header line per ``existing`` alias (sorted): whether its configured USER may write to the database."""
    lines = []
    for alias in sorted(aliases):
        with opened([alias]):
            lines.append(privileges_line(alias, specs[alias]))
    return lines
