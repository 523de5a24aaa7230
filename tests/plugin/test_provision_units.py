"""The pure parts of ``pytest_multidb.provision``, in this process (no inner pytest run, no server): the choice of a
kind per alias, and the registry's cleanup, which knows no kind and asks each record type's ``RecordKind``."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_multidb.conf import DatabaseSpec
from pytest_multidb.provision import PROVISIONERS, ProvisionError, select_kind
from pytest_multidb.provision.owner import Owner, Unreachable
from pytest_multidb.provision.registry import RECORD_KINDS, RecordKind, Registry, describe
from pytest_multidb.provision.xdist import WORKERINPUT_KEY, XdistRun, stop_owned

PROVISION = Path(__file__).resolve().parents[2] / "pytest_multidb" / "provision"
SQLITE = "django.db.backends.sqlite3"
POSTGRES = "django.db.backends.postgresql"


def spec(engine: str, **test: Any) -> DatabaseSpec:
    return DatabaseSpec("b", {"ENGINE": engine, "NAME": "b"}, test=test)


# -- select_kind ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "kind"), [(SQLITE, "sqlite"), (POSTGRES, "server")])
def test_auto_picks_the_kind_by_vendor(engine: str, kind: str) -> None:
    assert select_kind(spec(engine), {}) == kind
    assert select_kind(spec(engine, PROVISION="auto"), {}) == kind


def test_the_option_wins_over_the_setting_which_wins_over_auto() -> None:
    assert select_kind(spec(POSTGRES, PROVISION="process"), {}) == "process"
    assert select_kind(spec(POSTGRES, PROVISION="process"), {"b": "container"}) == "container"
    assert select_kind(spec(POSTGRES, PROVISION="process"), {"other": "container"}) == "process"


@pytest.mark.parametrize("engine", [SQLITE, POSTGRES])
def test_existing_fits_every_engine(engine: str) -> None:
    assert select_kind(spec(engine, PROVISION="existing"), {}) == "existing"


def test_an_unknown_kind_is_one_line_listing_the_kinds() -> None:
    with pytest.raises(ProvisionError) as raised:
        select_kind(spec(POSTGRES), {"b": "cloud"})
    assert str(raised.value) == (
        "alias 'b' (TEST['PROVISION'] / --multidb-provision): unknown kind 'cloud'. "
        f"Fix: use one of {', '.join(['auto', *sorted(PROVISIONERS)])}."
    )


@pytest.mark.parametrize(("engine", "kind"), [(SQLITE, "server"), (SQLITE, "process"), (POSTGRES, "sqlite")])
def test_a_kind_that_does_not_fit_the_engine_is_refused(engine: str, kind: str) -> None:
    with pytest.raises(ProvisionError, match=f"kind {kind!r} does not fit engine {engine!r}"):
        select_kind(spec(engine, PROVISION=kind), {})


# -- the registry's dispatch by record type -------------------------------------------------------------------


def dead_owner() -> Owner:
    """The owner a run killed with ``kill -9`` leaves in its records: a pid (of this host) that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return Owner(child.pid, 0.0, socket.gethostname())


@pytest.fixture
def removed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Owner | None]]:
    """Two record types of a test's own, registered as a provisioner module registers its own: ``early`` (rank 0)
    and ``late`` (rank 5). Their removals are noted here; a record's ``outcome`` says what the removal does."""
    calls: list[tuple[str, Owner | None]] = []

    def remove(record: dict[str, Any], owner: Owner | None) -> str | None:
        calls.append((record["name"], owner))
        outcome = record.get("outcome")
        if outcome == "unreachable":
            raise Unreachable("engine away")
        if outcome == "fails":
            raise RuntimeError("it broke\nsecond line")
        return outcome

    for type_, rank in (("early", 0), ("late", 5)):
        monkeypatch.setitem(RECORD_KINDS, type_, RecordKind(lambda r: f"thing {r['name']}", remove, rank=rank))
    return calls


def test_every_provisioner_module_registers_its_records() -> None:
    assert {"database", "container", "process"} <= set(RECORD_KINDS)
    ranks = {type_: RECORD_KINDS[type_].rank for type_ in ("database", "container", "process")}
    assert ranks["database"] < min(ranks["container"], ranks["process"])  # databases before their servers


def test_the_registry_imports_no_kind() -> None:
    """The registry (and the owner facts under it) know no provisioner module: each kind registers itself."""
    for name in ("registry.py", "owner.py"):
        tree = ast.parse((PROVISION / name).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
        assert imported <= {"owner", "messages"}, (name, imported)


def test_clean_removes_each_leftover_through_its_kind_in_rank_order(tmp_path, removed) -> None:
    dead = dead_owner()
    theirs = Registry(tmp_path, owner=dead)
    late = theirs.add({"type": "late", "alias": "b", "name": "server"})
    early = theirs.add({"type": "early", "alias": "b", "name": "database", "outcome": "not ours: left alone"})

    done, failed = Registry(tmp_path).clean()

    assert removed == [("database", None), ("server", None)]  # rank 0 first, whatever the file order
    assert done == [f"record of thing database of alias 'b', left by pid {dead.pid}: not ours: left alone",
                    f"thing server of alias 'b', left by pid {dead.pid}"]
    assert failed == []
    assert not late.exists() and not early.exists()


def test_a_failed_removal_keeps_its_record_and_says_why(tmp_path, removed) -> None:
    dead = dead_owner()
    theirs = Registry(tmp_path, owner=dead)
    away = theirs.add({"type": "early", "alias": "b", "name": "away", "outcome": "unreachable"})
    broken = theirs.add({"type": "late", "alias": "c", "name": "broken", "outcome": "fails"})

    done, failed = Registry(tmp_path).clean()

    assert done == []
    assert failed == [f"thing away of alias 'b', left by pid {dead.pid} (engine away; retried next run)",
                      f"thing broken of alias 'c', left by pid {dead.pid} (RuntimeError: it broke; retried next run)"]
    assert away.exists() and broken.exists()


def test_records_of_live_owners_and_of_unknown_types(tmp_path, removed) -> None:
    mine = Registry(tmp_path).add({"type": "early", "alias": "b", "name": "alive"})
    dead = dead_owner()
    unknown = Registry(tmp_path, owner=dead).add({"type": "tape", "alias": "b", "path": "/dev/st0"})

    done, failed = Registry(tmp_path).clean()

    assert removed == []  # a live run's record is never touched; an unknown type is never acted on
    assert done == [f"record of tape /dev/st0 of alias 'b', left by pid {dead.pid}: written by another version of "
                    "pytest-multidb, which cannot prove what it made: left alone"]
    assert failed == [] and mine.exists() and not unknown.exists()


def test_describe_asks_the_kind() -> None:
    record = {"type": "process", "alias": "b", "owner_pid": 7, "directory": "/tmp/x"}
    assert describe(record) == "server process (not started) (/tmp/x) of alias 'b', left by pid 7"
    record = {"type": "database", "alias": "b", "owner_pid": 7, "name": "test_x",
              "settings": {"ENGINE": POSTGRES, "HOST": "db", "PORT": 5433}}
    assert describe(record) == "database 'test_x' (postgresql db:5433) of alias 'b', left by pid 7"


# -- xdist: the controller's run, handed to the workers ------------------------------------------------------------


def test_the_xdist_run_goes_to_the_workers_as_json(tmp_path) -> None:
    run = XdistRun.for_controller(tmp_path)
    workerinput = json.loads(json.dumps({WORKERINPUT_KEY: run.to_workerinput()}))
    assert XdistRun.from_workerinput(workerinput) == run
    assert run.owner == Owner.me() and run.directory.is_dir() and run.directory.parent == tmp_path
    assert XdistRun.from_workerinput(None) is None and XdistRun.from_workerinput({}) is None


def test_stop_owned_removes_the_owners_servers_as_that_live_owner(tmp_path, monkeypatch, removed) -> None:
    monkeypatch.setitem(RECORD_KINDS, "process", RECORD_KINDS["early"])
    me = Owner.me()
    registry = Registry(tmp_path, owner=me)
    server = registry.add({"type": "process", "alias": "b", "name": "server"})
    database = registry.add({"type": "early", "alias": "b", "name": "database"})  # not a server: the worker's
    other = Registry(tmp_path, owner=Owner(os.getpid(), 0.0, "elsewhere")).add(
        {"type": "process", "alias": "c", "name": "other"})

    assert stop_owned(Registry(tmp_path), me) == (["shared process of alias 'b'"], [])
    assert removed == [("server", me)]
    assert not server.exists() and database.exists() and other.exists()
