"""A cold start builds the aliases' schemas at once (the first in the run's process, each other one in a worker
process forked from it) and fills the schema cache from each worker; a worker's failing migration stops the run in
the line an in-process failure gives.

The project: ``default`` and three aliases ``x``, ``y``, ``z`` on sqlite, one app each (a migration, and a
``post_migrate`` handler slow enough that builds started together are seen overlapping). The inner test writes
what the ``multidb`` fixture says (the session's ``info()``) and which tables each alias has (``facts.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_multidb.conf import DatabaseSpec
from pytest_multidb.schema_workers import waves
from tests.plugin.test_cache_rebuild import MIGRATION, schema_of
from tests.support.inner import assert_no_traceback

ROOT = Path(__file__).resolve().parents[2]
APPS = ("x", "y", "z")

SETTINGS = """
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "django.contrib.contenttypes", "app_x", "app_y", "app_z"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "real_default.db"}}
OTHER_DATABASES = {
    alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": f"real_{alias}.db", "MODELS": [f"app_{alias}"]}
    for alias in ("x", "y", "z")
}
"""
MODELS = """
import os
import time

from django.db import models
from django.db.models.signals import post_migrate


class Order(models.Model):  # as test_cache_rebuild's migration makes it (with a table of raw SQL beside it)
    code = models.CharField(max_length=20)


def slow(app_config, **kwargs):
    if app_config.label == "app_{alias}" and kwargs.get("using") == "{alias}":  # once, in the migrate of its alias
        time.sleep(float(os.environ.get("COLD_SLOW", "0")))


post_migrate.connect(slow)
"""
FACTS = """
import json
import os

import pytest
from django.db import connections


@pytest.mark.uses_db("default", "x", "y", "z")
def test_facts(multidb):
    tables = {alias: sorted(connections[alias].introspection.table_names()) for alias in ("x", "y", "z")}
    info = {alias: {key: value for key, value in found.items() if key != "settings"}
            for alias, found in multidb.items()}
    with open("facts.json", "w") as out:
        json.dump({"pid": os.getpid(), "tables": tables, "info": info}, out)
"""
ONLY_Y = FACTS.replace('"default", "x", "y", "z"', '"y"').replace('("x", "y", "z")', '("y",)')


class Cold:
    """The project, written with ``pytester``; ``run`` starts an inner pytest in a fresh interpreter."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        for alias in APPS:
            app = pytester.path / f"app_{alias}"
            (app / "migrations").mkdir(parents=True)
            (app / "__init__.py").write_text("")
            (app / "migrations" / "__init__.py").write_text("")
            (app / "models.py").write_text(MODELS.replace("{alias}", alias))
            self.migration(alias)
        (pytester.path / "cold_settings.py").write_text(SETTINGS)
        pytester.makepyfile(test_facts=FACTS)
        monkeypatch.setenv("PYTHONPATH", f"{pytester.path}{os.pathsep}{ROOT}")
        monkeypatch.setenv("MULTIDB_WARM", "0")  # every run fills its databases from the cache, or builds them
        monkeypatch.setenv("COLD_SLOW", "0")
        for var in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
            monkeypatch.delenv(var, raising=False)

    def migration(self, alias: str, broken: bool = False) -> None:
        path = self.pytester.path / f"app_{alias}" / "migrations" / "0001_initial.py"
        path.write_text(MIGRATION.replace("shopapp", f"app_{alias}").format(columns="NOT SQL" if broken else "a int"))

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess("-p", "no:django", "-p", "no:randomly", "-p", "no:asyncio",
                                                  "--multidb-settings", "cold_settings", *args, timeout=300)

    def facts(self) -> dict:
        return json.loads((self.pytester.path / "facts.json").read_text())


@pytest.fixture
def cold(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Cold:
    return Cold(pytester, monkeypatch)


def test_a_cold_start_builds_each_alias_in_a_worker_and_fills_the_cache(cold):
    result = cold.run()
    result.assert_outcomes(passed=1)
    assert sorted(schema_of(result)) == [("", alias, "built") for alias in ("default", *APPS)]
    facts = cold.facts()
    for alias in APPS:
        assert {f"app_{alias}_order", f"app_{alias}_extra"} <= set(facts["tables"][alias])
        assert "django_migrations" in facts["tables"][alias]
    pids = {alias: facts["info"][alias]["built_in"] for alias in ("default", *APPS)}
    assert pids["default"] == facts["pid"], pids  # the first built by the run itself, meanwhile
    assert len(set(pids.values())) == 4, pids  # each other one by a worker of its own
    assert all(facts["info"][alias]["install_seconds"] > 0 for alias in pids)

    again = cold.run()  # each worker stored its schema: the next run restores them all, builds none
    again.assert_outcomes(passed=1)
    assert sorted(schema_of(again)) == [("", alias, "cached") for alias in ("default", *APPS)]
    assert not any("built_in" in found for found in cold.facts()["info"].values())


def test_the_builds_overlap_in_time(cold, monkeypatch):
    """The workers' build windows (wall clock, from ``info()``) overlap one another: they ran at once."""
    monkeypatch.setenv("COLD_SLOW", "2")
    result = cold.run()
    result.assert_outcomes(passed=1)
    windows = [cold.facts()["info"][alias]["build_window"] for alias in APPS]
    assert max(start for start, _ in windows) < min(end for _, end in windows), windows


def test_one_alias_to_build_is_built_in_the_run(cold, pytester):
    """A run that needs one alias builds it in its own process: no worker to start."""
    pytester.makepyfile(test_y=ONLY_Y)
    result = cold.run("test_y.py")
    result.assert_outcomes(passed=1)
    assert schema_of(result) == [("", "y", "built")]
    facts = cold.facts()
    assert facts["info"]["y"]["built_in"] == facts["pid"]
    assert "app_y_order" in facts["tables"]["y"]


@pytest.mark.parametrize("test_file", ["test_facts.py", "test_y.py"], ids=["in-a-worker", "in-the-run"])
def test_a_failing_migration_stops_the_run_in_one_line_naming_the_alias(cold, pytester, test_file):
    """The same line whether ``y`` was built in a worker (four aliases to build) or in the run (``y`` alone)."""
    pytester.makepyfile(test_y=ONLY_Y)
    cold.migration("y", broken=True)
    result = cold.run(test_file)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert_no_traceback(out)
    assert ("multidb: alias 'y' (its migrations and models): its schema could not be installed in its test "
            'database (OperationalError: near "NOT": syntax error). Fix: correct the failing migration or model '
            "(`manage.py migrate --database y` on a scratch database shows where it fails).") in out
    if test_file == "test_facts.py":  # the other workers' aliases were installed (and are removed at the end)
        assert {alias for _, alias, schema in schema_of(result) if schema == "built"} == {"default", "x", "z"}


def _spec(alias: str, dependencies: list[str] | None = None) -> DatabaseSpec:
    test = {} if dependencies is None else {"DEPENDENCIES": dependencies}
    return DatabaseSpec(alias, {"ENGINE": "django.db.backends.sqlite3", "NAME": alias}, (), False, test)


def test_waves_build_an_alias_after_its_dependencies_only():
    """Without ``TEST["DEPENDENCIES"]`` all at once (the implicit ``default`` orders no build); with them, after."""
    specs = {"default": _spec("default"), "a": _spec("a"), "b": _spec("b", ["a"]), "c": _spec("c", ["b"]),
             "d": _spec("d", ["default", "a"])}
    assert waves(["default", "a"], specs) == [["default", "a"]]
    assert waves(["default", "a", "b", "c", "d"], specs) == [["default", "a"], ["b", "d"], ["c"]]
    assert waves(["b", "c"], specs) == [["b"], ["c"]]  # "a" is not being built: nothing to wait for
    assert waves(["c"], specs) == [["c"]]


#: A conftest that changes what a worker would not see: a ``post_migrate`` handler writing a row (``seeded``),
#: or the migrations of an app (``migration_modules``: ``app_x`` without migrations, built by its models).
CONFTEST = {
    "seeded": """
from django.db import connections
from django.db.models.signals import post_migrate


def seed(app_config, using, **kwargs):
    if app_config.label == f"app_{using}":
        with connections[using].cursor() as cursor:
            cursor.execute(f"INSERT INTO app_{using}_order (code) VALUES ('from the conftest')")


post_migrate.connect(seed, dispatch_uid="cold-seed")
""",
    "migration_modules": """
from django.conf import settings

settings.MIGRATION_MODULES = {"app_x": None}
""",
}
SEEDED = FACTS.replace("    info = {", """    rows = {}
    for alias in ("x", "y", "z"):
        with connections[alias].cursor() as cursor:
            cursor.execute(f"SELECT code FROM app_{alias}_order")
            rows[alias] = [code for (code,) in cursor.fetchall()]
    info = {""").replace('"info": info}', '"info": info, "rows": rows}')


@pytest.mark.parametrize("change", ["seeded", "migration_modules"])
def test_a_worker_builds_what_the_run_would_with_what_a_conftest_changed(cold, pytester, change):
    """A worker is forked from the run: what a conftest changed at run time (a ``post_migrate`` handler,
    ``MIGRATION_MODULES``) is in its Django, so each worker builds the schema the run would build itself."""
    pytester.makeconftest(CONFTEST[change])
    if change == "seeded":
        pytester.makepyfile(test_facts=SEEDED)
    result = cold.run()
    result.assert_outcomes(passed=1)
    facts = cold.facts()
    built = {alias: found["built_in"] for alias, found in facts["info"].items() if "built_in" in found}
    assert set(built) == {"default", *APPS} and len(set(built.values())) == 4, built  # the run and 3 workers
    if change == "seeded":
        assert facts["rows"] == {alias: ["from the conftest"] for alias in APPS}
    else:  # app_x built from its models, as the run's settings say: not its migration's raw SQL table
        assert "app_x_order" in facts["tables"]["x"] and "app_x_extra" not in facts["tables"]["x"]
        assert "app_y_extra" in facts["tables"]["y"]


#: The settings made in code by a conftest (``settings.configure()``, as django-simple-history's ``runtests.py``
#: does), no settings module: workers are forks of the run, so they build at once as with a module.
CONFIGURED = """
import importlib.util
import pathlib

from django.conf import settings


def pytest_configure(config):
    spec = importlib.util.spec_from_file_location("made", pathlib.Path(__file__).with_name("cold_settings.py"))
    made = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(made)
    settings.configure(**{name: getattr(made, name) for name in dir(made) if name.isupper()})
"""


def test_settings_configured_in_code_are_built_in_workers_too(cold, pytester):
    pytester.makeconftest(CONFIGURED)
    result = cold.pytester.runpytest_subprocess("-p", "no:django", "-p", "no:randomly", "-p", "no:asyncio",
                                                timeout=300)
    result.assert_outcomes(passed=1)
    facts = cold.facts()
    pids = {alias: facts["info"][alias]["built_in"] for alias in ("default", *APPS)}
    assert pids["default"] == facts["pid"] and len(set(pids.values())) == 4, pids
    for alias in APPS:
        assert f"app_{alias}_order" in facts["tables"][alias]


def test_a_worker_that_dies_stops_the_run_in_one_line(cold, pytester):
    """A worker killed while it builds (here: its alias's ``post_migrate`` handler ends the process) is an error
    of that alias, in one line; the others are installed and removed at the end."""
    pytester.makeconftest("""
import os

from django.db.models.signals import post_migrate


def die(app_config, using, **kwargs):
    if using == "y" and app_config.label == "app_y" and os.getpid() != int(os.environ["RUN_PID"]):
        os._exit(3)


post_migrate.connect(die, dispatch_uid="cold-die")


def pytest_configure(config):
    os.environ["RUN_PID"] = str(os.getpid())
""")
    result = cold.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert_no_traceback(out)
    assert ("multidb: alias 'y' (its migrations and models): its schema could not be installed in its test "
            "database (its worker process ended without a result (exit code 3)).") in out
