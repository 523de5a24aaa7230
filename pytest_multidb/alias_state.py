"""What the session learns about each alias as tests use it: its baselines, and whether its server is gone.

The session (``session.DatabaseSession``) owns one ``AliasState``; each test's isolation
(``isolation.TestDatabases``) reads it: the baseline to put a committing test's tables back to, and the line
that says an alias's server stopped answering (its later tests fail with it instead of timing out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import Any

from django.db import Error as DatabaseError
from django.db import connections

from . import counters
from .emptying import Baseline
from .messages import first_line
from .messages import run as texts
from .provision import Provisioned
from .provision.server import where as server_address

#: ``opened(aliases)``: a context in which the plugin itself may use ``aliases`` (the access guard lets it).
Opener = Callable[[Iterable[str]], AbstractContextManager[None]]


@dataclass
class AliasState:
    """Per alias: the baseline its committing tests are put back to, and whether its server stopped answering."""

    opened: Opener
    #: The session's test databases, as they are made (how each was made says where its server's log is).
    provisioned: Mapping[str, Provisioned] = field(default_factory=dict)
    #: alias -> what its test database holds when no test runs (committing tests are put back to it).
    baselines: dict[str, Baseline] = field(default_factory=dict)
    #: What each alias's schema install left (``baselines`` may add a ``django_db_setup`` override's rows):
    #: the state a warm database is kept in.
    installed: dict[str, Baseline] = field(default_factory=dict)
    #: Aliases a ``serialized_rollback`` test uses: their install-time contents are serialized.
    serialized: set[str] = field(default_factory=set)
    #: alias -> the one line saying its server stopped answering; its later tests fail with it.
    broken: dict[str, str] = field(default_factory=dict)

    def take_baseline(self, alias: str, extra_tables: Iterable[str] = ()) -> None:
        """Snapshot what ``alias`` holds now (kept after committing tests)."""
        self.baselines[alias] = Baseline.take(alias, extra_tables)

    def install_done(self, alias: str, extra_tables: Iterable[str] = (), kept: Baseline | None = None) -> None:
        """``alias``'s schema is installed: its baseline (``kept``: the one a warm database was kept with, used
        as it is), and Django's serialized contents where a test asks."""
        if kept is not None and kept.extra == tuple(extra_tables):
            self.baselines[alias] = kept
        else:
            self.take_baseline(alias, extra_tables)
        self.installed[alias] = self.baselines[alias]
        if alias in self.serialized:  # what Django's test runner does in create_test_db(serialize=True)
            conn = connections[alias]
            conn._test_serialized_contents = conn.creation.serialize_db_to_string()

    def changed(self, alias: str) -> str | None:
        """How ``alias``'s test database differs now from what its schema install left (``None``: it does not).

        Rows that differ (a Django test class's flush, content types or permissions made lazily, a
        ``django_db_setup`` override's rows) are put back as the install left them first: only tables added
        or dropped, or rows that cannot be put back, keep a database from being kept warm. Its id counters are
        put back too (``counters.py``)."""
        if alias in self.broken:
            return texts.SERVER_STOPPED
        baseline = self.installed.get(alias)
        if baseline is None:
            return texts.NO_SNAPSHOT
        change = baseline.differences(alias)
        if change is not None and change.startswith("rows "):
            baseline.restore(alias)
            change = baseline.differences(alias)
        if change is None:  # as a new database's would: Django's runner makes one every run
            counters.put_back(alias, baseline.counters)
        return change

    def diagnose(self, alias: str, error: BaseException) -> str | None:
        """After ``error`` on ``alias``: if its server no longer answers, the one line that says so (and every
        later test of the alias fails with it); ``None`` when a fresh connection works."""
        if alias in self.broken:
            return self.broken[alias]
        probe = connections.create_connection(alias)
        try:
            with self.opened([alias]):
                probe.ensure_connection()
        except Exception as probe_error:
            made = self.provisioned.get(alias)
            self.broken[alias] = server_gone(alias, probe_error, made.kind if made else "server",
                                             made.details if made else {})
            return self.broken[alias]
        finally:
            with suppress(Exception):
                probe.close()
        return None

    def diagnose_failure(self, aliases: Iterable[str], error: BaseException) -> str | None:
        """For a test that failed with a database error: the line saying which alias's server is gone, if one is."""
        if not isinstance(error, DatabaseError):
            return None
        return next((line for alias in aliases if (line := self.diagnose(alias, error)) is not None), None)


def server_gone(alias: str, probe_error: BaseException, kind: str, details: dict[str, Any]) -> str:
    """The line saying ``alias``'s server stopped answering, and where to look."""
    where = server_address(connections.settings[alias])
    if details.get("log"):
        look = texts.LOOK_AT_LOG.format(log=details["log"])
    elif details.get("container"):
        look = texts.LOOK_AT_CONTAINER.format(container=details["container"])
    else:
        look = texts.LOOK_AT_SERVER
    return texts.SERVER_GONE.format(alias=alias, kind=kind, where=where, reason=first_line(probe_error), look=look)
