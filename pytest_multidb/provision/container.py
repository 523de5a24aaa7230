"""``container``: a throwaway database server in a container, through testcontainers (extra ``containers``).

One small class per database kind, like testcontainers' own modules; ``ContainerProvisioner`` picks one by
the alias's vendor. The image is ``TEST["IMAGE"]`` or the kind's default.

Every container carries labels naming the run (its token) and its owner (pid, create time, host), and is recorded
in the registry *before* ``start()`` creates it: a run killed while the container starts leaves a record the next
run follows to the container by its label (the record gets the container's id only once ``start()`` returned).
The container is removed at the end of the session (under xdist: one container per alias for the whole run,
removed by the controller at its end, see ``xdist.py``); testcontainers' reaper (Ryuk) is turned off unless you turn
it on (``TESTCONTAINERS_RYUK_DISABLED``): the registry does its job.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, ClassVar

from ..conf import DatabaseSpec
from ..messages import provision as texts
from . import server
from .base import ProvisionContext, Provisioned, ProvisionError, for_vendor, register
from .owner import LABEL_TOKEN, Owner, Unreachable
from .registry import RecordKind, Registry, register_record

SETTING = texts.PROVISION_SETTING.format(kind="container")
#: The environment variables that say which Docker engine a container was made on (kept in its record).
DOCKER_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def _testcontainers() -> Any:
    """Import testcontainers (after choosing its defaults); a clear error when it is missing."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    try:
        from testcontainers.community import mysql, postgres
    except ImportError as error:
        raise ImportError(texts.CONTAINERS_EXTRA_FIX) from error
    return postgres, mysql


def _tcp_host(container: Any) -> str:
    # testcontainers answers "localhost", which MySQLdb takes for "the local Unix socket" (the host's server).
    host = container.get_container_host_ip()
    return "127.0.0.1" if host == "localhost" else host


class PostgresDB:
    """PostgreSQL in a container (images honouring the official image's POSTGRES_* variables)."""

    vendor = "postgresql"
    default_image = "postgres:16"
    port = 5432

    @staticmethod
    def container(image: str, name: str, password: str, labels: dict[str, str]) -> Any:
        postgres, _ = _testcontainers()
        return postgres.PostgresContainer(image, username="multidb", password=password, dbname=name, driver=None,
                                          labels=labels)

    @staticmethod
    def settings(container: Any) -> dict[str, Any]:
        return {"USER": container.username, "PASSWORD": container.password, "NAME": container.dbname}


class MariaDB:
    """MariaDB / MySQL in a container (images honouring the official image's MARIADB_* / MYSQL_* variables)."""

    vendor = "mysql"
    default_image = "mariadb:11"
    port = 3306

    @staticmethod
    def container(image: str, name: str, password: str, labels: dict[str, str]) -> Any:
        _, mysql = _testcontainers()
        return mysql.MySqlContainer(image, username="multidb", password=password, root_password=password, dbname=name,
                                    labels=labels)

    @staticmethod
    def settings(container: Any) -> dict[str, Any]:
        # root: XA recovery and the plugin's own database work need more than the image's ordinary user.
        return {"USER": "root", "PASSWORD": container.root_password, "NAME": container.dbname}


KINDS: dict[str, type[PostgresDB] | type[MariaDB]] = {kind.vendor: kind for kind in (PostgresDB, MariaDB)}


@register
class ContainerProvisioner:
    """Starts one container per alias and points the alias at the database inside it (under xdist, one container
    per alias for the whole run, with a test database per worker inside: ``xdist.py``)."""

    kind: ClassVar[str] = "container"

    def provision(self, spec: DatabaseSpec, context: ProvisionContext) -> Provisioned:
        database = for_vendor(KINDS, spec, self.kind)
        image = spec.test.get("IMAGE") or database.default_image
        if context.xdist is not None:
            return self._in_xdist(spec, context, database, image)
        container, record = start(spec.alias, database, image, context.database_name(spec), context.registry)
        settings = {**spec.settings, **address(container, database), **database.settings(container)}
        return Provisioned(spec.alias, self.kind, settings, lambda: _stop(container), records=[record],
                           details={"image": image, "container": container.get_wrapped_container().short_id})

    def _in_xdist(self, spec: DatabaseSpec, context: ProvisionContext, database: type[PostgresDB] | type[MariaDB],
                   image: str) -> Provisioned:
        """Under xdist: this worker's database in the run's one container for the alias (started if first)."""
        assert context.xdist is not None

        def begin(registry: Registry, log_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
            # removed by the controller at the end of the run (xdist.stop_owned), by its labels
            container, _ = start(spec.alias, database, image, f"multidb_{context.xdist.run_id}", registry)
            settings = {**address(container, database), **database.settings(container)}
            settings.pop("NAME")
            return settings, {"image": image, "container": container.get_wrapped_container().short_id}

        found = context.xdist.server(spec.alias, context.registry.directory, begin)
        settings, cleanup, cloned = server.database_on(spec, found["settings"], context.database_name(spec),
                                                       context.templates.get(spec.alias), context.registry.stamp)
        return Provisioned(spec.alias, self.kind, settings, cleanup,
                           details={**found["details"], "xdist": True, "cloned": cloned})


def start(alias: str, database: type[PostgresDB] | type[MariaDB], image: str, name: str,
          registry: Registry) -> tuple[Any, Path]:
    """Start a container of ``database`` from ``image`` with database ``name``, labelled and recorded in
    ``registry`` (with the Docker engine it runs on) before it is created. Returns (container, record)."""
    try:
        # The labels go to Docker's create call (DockerContainer keeps extra keyword arguments for it).
        container = database.container(image, name, secrets.token_hex(8), registry.labels())
    except ImportError as error:
        raise ProvisionError(alias, SETTING, texts.TESTCONTAINERS_MISSING, str(error)) from error
    except Exception as error:  # the Docker client is made here: no engine, ...
        raise _start_error(alias, image, error) from error
    record = registry.add({"type": "container", "alias": alias, "image": image, "id": None,
                           "docker": docker_engine()})
    try:
        container.start()
    except Exception as error:
        try:
            _stop(container)
        except Exception:  # the record stays: the next run finds the container by its label
            pass
        else:
            registry.remove(record)
        raise _start_error(alias, image, error) from error
    registry.update(record, state="made", id=container.get_wrapped_container().id)
    return container, record


def address(container: Any, database: type[PostgresDB] | type[MariaDB]) -> dict[str, str]:
    """HOST and PORT of the container's database as this machine reaches it: through the Docker engine's host
    (``get_container_host_ip()``: the host of a remote ``DOCKER_HOST``), on the port the engine published."""
    return {"HOST": _tcp_host(container), "PORT": str(container.get_exposed_port(database.port))}


def _stop(container: Any) -> None:
    """Remove the container (testcontainers' ``stop`` removes it, volumes included), if it was created."""
    if container.get_wrapped_container() is not None:
        container.stop()


def _start_error(alias: str, image: str, error: Exception) -> ProvisionError:
    from docker.errors import DockerException, ImageNotFound

    if isinstance(error, ImageNotFound):
        return ProvisionError(alias, "TEST['IMAGE']", texts.IMAGE_NOT_AVAILABLE.format(image=image, error=error),
                              texts.IMAGE_NOT_AVAILABLE_FIX)
    if isinstance(error, DockerException):
        where = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
        return ProvisionError(alias, SETTING, texts.NO_DOCKER_ENGINE.format(where=where, error=error),
                              texts.NO_DOCKER_ENGINE_FIX)
    return ProvisionError(alias, SETTING, texts.CONTAINER_DID_NOT_START.format(image=image, error=error),
                          texts.CONTAINER_DID_NOT_START_FIX)


def docker_engine() -> dict[str, str]:
    """The Docker engine of this process (``DOCKER_HOST`` and its TLS variables), for a container's record."""
    return {name: os.environ[name] for name in DOCKER_VARIABLES if os.environ.get(name)}


def docker_client(record: dict[str, Any]) -> Any:
    """A client of the engine the record's container was made on (a record without one: this process's)."""
    import docker

    engine = record.get("docker")
    if engine is None:
        return docker.from_env()
    return docker.from_env(environment={"DOCKER_HOST": DEFAULT_DOCKER_HOST, **engine})


def _claimed(labels: dict[str, str], token: str, owner: Owner | None) -> bool:
    """The labels carry ``token`` and name ``owner``, or (``None``) an owner that is dead (``alive()``: another
    host's owners live)."""
    named = Owner.from_labels(labels)
    if labels.get(LABEL_TOKEN) != token or named is None:
        return False
    return named == owner if owner is not None else not named.alive()


def remove_record(record: dict[str, Any], owner: Owner | None = None) -> str | None:
    """Remove the containers carrying the record's token (whether or not the record got their id), on the engine
    the record names, if their labels name ``owner`` (``None``: a dead owner)."""
    try:
        import docker  # installed with the 'containers' extra, like testcontainers which made them
    except ImportError as error:
        raise Unreachable(texts.DOCKER_PACKAGE_MISSING.format(fix=texts.CONTAINERS_EXTRA_FIX)) from error
    try:
        client = docker_client(record)
        found = client.containers.list(all=True, filters={"label": f"{LABEL_TOKEN}={record['token']}"})
    except docker.errors.DockerException as error:
        where = (record.get("docker") or {}).get("DOCKER_HOST") or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
        raise Unreachable(texts.DOCKER_UNREACHABLE.format(where=where, error=error)) from error
    ours = [container for container in found if _claimed(container.labels, record["token"], owner)]
    for container in ours:
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            continue  # removed meanwhile
    return None if ours else texts.ALREADY_GONE


def describe_record(record: dict[str, Any]) -> str:
    return (texts.CONTAINER_RECORD.format(id=record["id"][:12]) if record.get("id")
            else texts.CONTAINER_BEING_STARTED.format(label=LABEL_TOKEN, token=record.get("token", "?")))


register_record("container", RecordKind(describe_record, remove_record, rank=1))
