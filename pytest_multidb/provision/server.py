"""``server``: a uniquely named test database on the configured PostgreSQL / MariaDB server."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, NamedTuple

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.connection import ConnectionDoesNotExist

from ..conf import DatabaseSpec
from ..messages import first_line
from ..messages import provision as texts
from ..messages import settings as settings_texts
from .base import ProvisionContext, Provisioned, ProvisionError, register
from .owner import Owner, Unreachable, stamp_of
from .registry import RecordKind, register_record

#: Seconds a leftover's drop on MariaDB waits for locks held by sessions of the killed run.
DROP_LOCK_TIMEOUT = 10

#: The driver module each engine needs, and the extra that installs it.
DRIVERS = {
    "postgresql": ("psycopg or psycopg2", settings_texts.POSTGRESQL_DRIVER_FIX),
    "mysql": ("MySQLdb (mysqlclient)", settings_texts.MYSQL_DRIVER_FIX),
}


def temporary_wrapper(alias: str, settings: dict[str, Any]) -> Any:
    """A Django connection wrapper for ``settings`` that is not registered under ``alias``."""
    from django.db.utils import load_backend

    try:
        backend = load_backend(settings["ENGINE"])
    except Exception as error:  # ImproperlyConfigured from a missing driver, ImportError, ...
        vendor = settings["ENGINE"].rsplit(".", 1)[-1]
        other = (texts.OTHER_DRIVER.format(engine=settings["ENGINE"]), texts.OTHER_DRIVER_FIX)
        driver, fix = DRIVERS.get(vendor, other)
        raise ProvisionError(alias, "ENGINE", texts.BACKEND_NOT_LOADED.format(driver=driver, error=error),
                             fix) from error
    resolved = copy.deepcopy(settings)
    connections.configure_settings({DEFAULT_DB_ALIAS: resolved})  # Django's defaults for the missing keys
    return backend.DatabaseWrapper(resolved, alias)


@contextmanager
def admin_cursor(alias: str, settings: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """``(wrapper, cursor)`` on the server of ``settings``, outside any database (autocommit).

    Raises ``Unreachable`` when no connection can be made; errors of the statements run inside propagate.
    The base class's ``_nodb_cursor``, not PostgreSQL's: when the ``postgres`` database cannot be reached, that
    one falls back to a connection to the first configured PostgreSQL database, a real one.
    """
    wrapper = temporary_wrapper(alias, settings)
    connected = False
    try:
        with BaseDatabaseWrapper._nodb_cursor(wrapper) as cursor:
            connected = True
            yield wrapper, cursor
    except DatabaseError as error:
        if connected:
            raise
        raise Unreachable(texts.SERVER_UNREACHABLE.format(where=where(settings), error=first_line(error))) from error
    finally:
        wrapper.close()


def where(settings: dict[str, Any]) -> str:
    """``HOST:PORT`` of a connection's server, for messages (``HOST`` alone when no port is set)."""
    host, port = settings.get("HOST") or "localhost", settings.get("PORT")
    return f"{host}:{port}" if port else str(host)


def server_label(vendor: str, settings: dict[str, Any]) -> str:
    """A server in the lines about what was dropped there: ``postgresql 127.0.0.1:5432``."""
    return f"{vendor} {where(settings)}"


def has_schema_comments(cursor: Any) -> bool:
    """Whether this MySQL-family server keeps schema comments (MariaDB 10.5+; MySQL has none)."""
    cursor.execute("SELECT VERSION()")
    version = cursor.fetchone()[0]
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    return "mariadb" in version.lower() and numbers >= (10, 5)


def read_stamp(wrapper: Any, cursor: Any, name: str) -> tuple[bool, str | None]:
    """Whether database ``name`` exists, and its stamp (comment), ``None`` if it has none."""
    if wrapper.vendor == "postgresql":
        cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name])
    elif has_schema_comments(cursor):
        cursor.execute("SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name])
    else:
        cursor.execute("SELECT NULL FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name])
    row = cursor.fetchone()
    return row is not None, (row[0] or None) if row else None


def stamp_database(wrapper: Any, cursor: Any, name: str, stamp: str) -> bool:
    """Put ``stamp`` on database ``name`` as its comment (a database made from a template has none).

    Returns ``False`` on MySQL, which has no schema comments: a leftover of a killed run is then left alone.
    """
    literal = "'" + stamp.replace("'", "''") + "'"  # utility statements take no bind parameters
    if wrapper.vendor == "postgresql":
        cursor.execute(f"COMMENT ON DATABASE {wrapper.ops.quote_name(name)} IS {literal}")
    elif has_schema_comments(cursor):
        cursor.execute(f"ALTER DATABASE {wrapper.ops.quote_name(name)} COMMENT = {literal}")
    else:
        return False
    return True


class Created(NamedTuple):
    """What ``create_database`` made: from the template or not, stamped or not (MySQL)."""

    cloned: bool
    stamped: bool


def _is_duplicate(error: DatabaseError) -> bool:
    """``CREATE DATABASE`` failed because the name is taken (PostgreSQL 42P04, MySQL/MariaDB 1007)."""
    return getattr(error.__cause__, "sqlstate", None) == "42P04" or (bool(error.args) and error.args[0] == 1007)


def cannot_reach(alias: str, settings: dict[str, Any], what: str, error: Unreachable) -> ProvisionError:
    """The one line for a server that cannot be reached while we ``what`` (``"create test database 'x'"``)."""
    return ProvisionError(
        alias, "HOST/PORT/USER/PASSWORD",
        texts.CANNOT_REACH.format(what=what, where=where(settings), error=first_line(error.__cause__ or error)),
        texts.CANNOT_REACH_FIX.format(alias=alias),
    )


def create_database(alias: str, settings: dict[str, Any], name: str, template: str | None = None,
                    stamp: str | None = None) -> Created:
    """``CREATE DATABASE name`` on the server of ``settings`` (from ``template`` on PostgreSQL, if it exists),
    then stamp it with ``stamp``.

    Written out rather than through ``creation._execute_create_test_db``, which ``sys.exit()``s on errors;
    the creation suffix (charset, collation, template) still comes from Django. If stamping fails, the
    database just made is dropped again: no unstamped database of ours outlives this call.
    """
    try:
        with admin_cursor(alias, settings) as (wrapper, cursor):
            quote = wrapper.ops.quote_name
            cloned = False
            if template is not None:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
                if cursor.fetchone() is not None:
                    try:
                        cursor.execute(f"CREATE DATABASE {quote(name)} TEMPLATE {quote(template)}")
                        cloned = True
                    except DatabaseError as error:
                        if _is_duplicate(error):
                            raise
                        # the template is being rebuilt by another run: make an empty database instead
            if not cloned:
                cursor.execute(f"CREATE DATABASE {quote(name)} {wrapper.creation.sql_table_creation_suffix()}")
            stamped = False
            if stamp is not None:
                try:
                    stamped = stamp_database(wrapper, cursor, name, stamp)
                except BaseException:
                    cursor.execute(f"DROP DATABASE {quote(name)}")  # made by this very call, one statement ago
                    raise
            return Created(cloned, stamped)
    except Unreachable as error:
        raise cannot_reach(alias, settings, texts.CREATE_TEST_DATABASE.format(name=name), error) from error
    except DatabaseError as error:
        if _is_duplicate(error):
            raise ProvisionError(
                alias, "TEST['NAME']", texts.TEST_DATABASE_EXISTS.format(name=name, where=where(settings)),
                texts.TEST_DATABASE_EXISTS_FIX,
            ) from error
        raise ProvisionError(
            alias, "HOST/PORT/USER/PASSWORD",
            texts.CANNOT_CREATE.format(name=name, where=where(settings), error=first_line(error)),
            texts.CANNOT_CREATE_FIX,
        ) from error


def drop_owned(alias: str, settings: dict[str, Any], name: str, stamp: str | None,
               force: bool = False) -> str | None:
    """Drop database ``name`` if its stamp is ``stamp``; checked in the same connection right before the drop.

    Returns ``None`` once dropped, else why nothing was touched ("already gone", "not ours: left alone ...").
    ``stamp=None``: no check, only for the database this very process made and could not stamp (MySQL).
    ``force`` (a leftover): ``WITH (FORCE)`` on PostgreSQL 13+, which ends the sessions a killed run's backends
    may still hold; on MariaDB a bounded wait for their locks instead of the default year. Raises ``Unreachable``
    when the server cannot be reached and ``DatabaseError`` when the drop fails: the database is still there.
    """
    with admin_cursor(alias, settings) as (wrapper, cursor):
        exists, found = read_stamp(wrapper, cursor, name)
        if not exists:
            return texts.ALREADY_GONE
        if stamp is not None and found != stamp:
            why = texts.DATABASE_NOT_STAMPED if found is None else texts.DATABASE_STAMPED.format(stamp=found)
            return texts.NOT_OURS.format(why=why)
        suffix = ""
        if wrapper.vendor == "postgresql" and force:
            cursor.execute("SELECT current_setting('server_version_num')::int")
            suffix = " WITH (FORCE)" if cursor.fetchone()[0] >= 130000 else ""
        elif force:
            cursor.execute(f"SET SESSION lock_wait_timeout = {DROP_LOCK_TIMEOUT}")
        cursor.execute(f"DROP DATABASE IF EXISTS {wrapper.ops.quote_name(name)}{suffix}")
    return None


def drop_database(alias: str, settings: dict[str, Any], name: str, stamp: str | None) -> None:
    """Drop this run's test database at the end of the session (if it still carries this run's ``stamp``;
    ``None``: made unstamped by this process, on MySQL)."""
    note = drop_owned(alias, settings, name, stamp)
    if note is not None and note != texts.ALREADY_GONE:
        raise RuntimeError(texts.NO_LONGER_THIS_RUNS.format(name=name, note=note))


def database_on(spec: DatabaseSpec, address: dict[str, Any], name: str, template: str | None,
                stamp: str) -> tuple[dict[str, Any], Callable[[], None], bool]:
    """Create test database ``name`` on the server at ``address`` (connection settings without NAME: the server
    of all xdist workers, ``xdist.py``).

    Returns (the alias's settings, the cleanup dropping it, whether it was cloned from ``template``).
    """
    settings = {**spec.settings, **address}
    created = create_database(spec.alias, settings, name, template, stamp)
    owned = stamp if created.stamped else None
    return {**settings, "NAME": name}, lambda: drop_database(spec.alias, settings, name, owned), created.cloned


def server_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The part of a connection's settings needed to reach its server again (for the registry)."""
    return {key: settings[key] for key in ("ENGINE", "HOST", "PORT", "USER", "PASSWORD", "OPTIONS") if key in settings}


def real_names(spec: DatabaseSpec) -> set[str]:
    """Names of configured databases on the same server as ``spec`` (the ones never to touch)."""
    place = (spec.settings.get("HOST", ""), str(spec.settings.get("PORT", "")), spec.engine)
    names = set()
    for alias in connections:
        try:
            other = connections.settings[alias]
        except ConnectionDoesNotExist:
            continue
        if (other.get("HOST", ""), str(other.get("PORT", "")), other.get("ENGINE")) == place:
            names.add(other.get("NAME", ""))
    return names


def remove_record(record: dict[str, Any], owner: Owner | None = None) -> str | None:
    """Drop a recorded test database if it carries the record's stamp (a leftover: ``force``)."""
    note = drop_owned(record["alias"], record["settings"], record["name"], stamp_of(record["token"]), force=True)
    return texts.NEVER_MADE if note == texts.ALREADY_GONE and record["state"] == "intent" else note


def describe_record(record: dict[str, Any]) -> str:
    settings = record["settings"]
    return texts.DATABASE_RECORD.format(name=record["name"], engine=settings.get("ENGINE", "").rsplit(".", 1)[-1],
                                        host=settings.get("HOST") or "localhost", port=settings.get("PORT") or "-")


register_record("database", RecordKind(describe_record, remove_record, rank=0))


@register
class ServerProvisioner:
    """Creates ``test_<NAME>_<run>`` on the configured server and drops it at the end."""

    kind: ClassVar[str] = "server"

    def provision(self, spec: DatabaseSpec, context: ProvisionContext) -> Provisioned:
        return self.provision_named(spec, context, context.database_name(spec))

    def provision_named(self, spec: DatabaseSpec, context: ProvisionContext, name: str) -> Provisioned:
        """Create test database ``name`` (recorded, then made from the alias's template if there is one, stamped)."""
        clash = {name, spec.test.get("NAME")} & real_names(spec)  # TEST['NAME'] itself too (xdist adds a suffix)
        if clash:
            raise ProvisionError(
                spec.alias, "TEST['NAME']", texts.NAME_CLASH.format(name=clash.pop()), texts.NAME_CLASH_FIX,
            )
        registry = context.registry
        record = registry.add({"type": "database", "alias": spec.alias, "name": name,
                               "settings": server_settings(spec.settings)})
        try:
            created = create_database(spec.alias, spec.settings, name, context.templates.get(spec.alias),
                                      registry.stamp)
        except Exception:
            registry.remove(record)  # nothing of ours was made (create_database leaves no unstamped database)
            raise
        registry.update(record, state="made", stamped=created.stamped)
        stamp = registry.stamp if created.stamped else None
        return Provisioned(
            spec.alias, self.kind, {**spec.settings, "NAME": name},
            lambda: drop_database(spec.alias, spec.settings, name, stamp), records=[record],
            details={"cloned": created.cloned, "stamped": created.stamped},
        )
