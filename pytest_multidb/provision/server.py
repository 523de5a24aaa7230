"""``server``: a uniquely named test database on the configured PostgreSQL / MariaDB server."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils.connection import ConnectionDoesNotExist

from ..conf import DatabaseSpec
from .base import ProvisionContext, Provisioned, ProvisionError, register

#: The driver module each engine needs, and the extra that installs it.
DRIVERS = {
    "postgresql": ("psycopg or psycopg2", "pip install 'pytest-multidb[postgres]'"),
    "mysql": ("MySQLdb (mysqlclient)", "pip install 'pytest-multidb[mysql]'"),
}


def temporary_wrapper(alias: str, settings: dict[str, Any]) -> Any:
    """A Django connection wrapper for ``settings`` that is not registered under ``alias``."""
    from django.db.utils import load_backend

    try:
        backend = load_backend(settings["ENGINE"])
    except Exception as error:  # ImproperlyConfigured from a missing driver, ImportError, ...
        vendor = settings["ENGINE"].rsplit(".", 1)[-1]
        driver, fix = DRIVERS.get(vendor, (f"the driver for {settings['ENGINE']}", "install the database driver"))
        raise ProvisionError(alias, "ENGINE", f"cannot load the backend ({driver} missing?): {error}", fix) from error
    resolved = copy.deepcopy(settings)
    connections.configure_settings({DEFAULT_DB_ALIAS: resolved})  # Django's defaults for the missing keys
    return backend.DatabaseWrapper(resolved, alias)


def create_database(alias: str, settings: dict[str, Any], name: str, template: str | None = None) -> bool:
    """``CREATE DATABASE name`` on the server of ``settings``; from ``template`` (PostgreSQL) if it exists.

    Written out rather than through ``creation._execute_create_test_db``, which ``sys.exit()``s on errors;
    the creation suffix (charset, collation, template) still comes from Django. Returns whether the
    database was made from ``template``.
    """
    wrapper = temporary_wrapper(alias, settings)
    quote = wrapper.ops.quote_name
    try:
        with wrapper.creation._nodb_cursor() as cursor:
            if template is not None:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
                if cursor.fetchone() is not None:
                    try:
                        cursor.execute(f"CREATE DATABASE {quote(name)} TEMPLATE {quote(template)}")
                        return True
                    except DatabaseError:
                        pass  # the template is being rebuilt by another run: make an empty database instead
            cursor.execute(f"CREATE DATABASE {quote(name)} {wrapper.creation.sql_table_creation_suffix()}")
            return False
    except DatabaseError as error:
        host = f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 'default port'}"
        raise ProvisionError(
            alias, "HOST/PORT/USER/PASSWORD", f"cannot create test database {name!r} on {host}: {error}".strip(),
            "start the server or fix the connection settings, or choose --multidb-provision "
            f"{alias}=process|container",
        ) from error
    finally:
        wrapper.close()


def drop_database(alias: str, settings: dict[str, Any], name: str) -> None:
    """``DROP DATABASE IF EXISTS name``: only ever called for a database a run of ours created.

    ``IF EXISTS`` (which Django's ``_destroy_test_db`` lacks) because a run killed between the drop and
    forgetting its record leaves a record of a database that is already gone.
    """
    wrapper = temporary_wrapper(alias, settings)
    try:
        with wrapper.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {wrapper.ops.quote_name(name)}")
    finally:
        wrapper.close()


def server_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The part of a connection's settings needed to reach its server again (for the registry)."""
    return {key: settings[key] for key in ("ENGINE", "HOST", "PORT", "USER", "PASSWORD", "OPTIONS") if key in settings}


def real_names(spec: DatabaseSpec) -> set[str]:
    """Names of configured databases on the same server as ``spec`` (the ones never to touch)."""
    where = (spec.settings.get("HOST", ""), str(spec.settings.get("PORT", "")), spec.engine)
    names = set()
    for alias in connections:
        try:
            other = connections.settings[alias]
        except ConnectionDoesNotExist:
            continue
        if (other.get("HOST", ""), str(other.get("PORT", "")), other.get("ENGINE")) == where:
            names.add(other.get("NAME", ""))
    return names


@register
class ServerProvisioner:
    """Creates ``test_<NAME>_<run>`` on the configured server and drops it at the end."""

    kind: ClassVar[str] = "server"

    def provision(self, spec: DatabaseSpec, context: ProvisionContext) -> Provisioned:
        name = context.database_name(spec)
        clash = {name, spec.test.get("NAME")} & real_names(spec)  # TEST['NAME'] itself too (xdist adds a suffix)
        if clash:
            raise ProvisionError(
                spec.alias, "TEST['NAME']", f"test database name {clash.pop()!r} is the name of a configured database",
                "give TEST['NAME'] a name that no alias uses, or remove it",
            )
        record = context.registry.add({"type": "database", "alias": spec.alias, "name": name,
                                       "settings": server_settings(spec.settings)})
        try:
            cloned = create_database(spec.alias, spec.settings, name, context.templates.get(spec.alias))
        except Exception:
            context.registry.remove(record)
            raise
        return Provisioned(
            spec.alias, self.kind, {**spec.settings, "NAME": name},
            lambda: drop_database(spec.alias, spec.settings, name), records=[record], details={"cloned": cloned},
        )
