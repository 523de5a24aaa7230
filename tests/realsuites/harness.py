"""Real suites ("fidelity"): Django's own test modules and django-simple-history's suite, run from their
sdists under pytest-django (``-p no:multidb``) and under pytest-multidb (``-p no:django``), compared per test.

- :func:`sdist_tree` downloads the sdist with the venv's pip (``pip download --no-deps --no-binary :all:``) into a
  cache outside the repository (``$XDG_CACHE_HOME/pytest-multidb/realsuites``, else
  ``~/.cache/pytest-multidb/realsuites``), extracts it once next to it (read-only by convention), under a file
  lock (xdist workers and concurrent runs share it).
- :func:`prepare` copies the extract's test tree into a per-run directory, with the settings and plugin of
  ``inner/`` beside it (Django's modules are never modified).
- :func:`run_pytest` runs one inner pytest session in a subprocess (``--junitxml``), timed from outside;
  :func:`outcomes` reads the report into ``{nodeid: outcome}``; :func:`compare` applies the rule.
- :func:`run_native` runs the suite's own runner (``runtests.py``), for the benchmark.

Used by ``tests/realsuites/test_realsuites.py`` and ``benchmarks/realsuites.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from tests.support.servers import MARIA, PG  # the servers of the project's suite ($MULTIDB_PG_HOST, ...)

HERE = Path(__file__).resolve().parent
INNER = HERE / "inner"

#: Django's test modules run: multi-database ones (``databases = {...}``, the ``other`` alias; migrations applied,
#: recorded and signalled per database), live servers, the test client and sessions (test classes that meet through
#: class-level state: the order they run in), and the connection and test-database handling of the backends, all
#: fast; of ``auth_tests``, ``admin_views`` and ``queries`` (a minute each per run, and passing alike) the files with
#: multi-database classes (``createsuperuser --database``, the admin and bulk updates on ``other``); and the
#: modules of on_commit hooks, fixtures loaded per database, and ``TransactionTestCase`` classes that write from
#: threads (``get_or_create``, ``delete_regress``) or through M2M tables on ``other``.
DJANGO_MODULES = ("multiple_database", "test_utils", "transactions", "fixtures_regress", "select_for_update",
                  "prefetch_related", "defer", "sites_tests", "contenttypes_tests", "check_framework",
                  "context_processors", "admin_checks", "servers", "sessions_tests", "test_client", "backends",
                  "migrations", "migrate_signals", "migration_test_data_persistence", "order_with_respect_to",
                  "apps", "db_utils", "auth_tests.test_management", "auth_tests.test_models",
                  "auth_tests.test_admin_multidb", "admin_views.test_multidb", "queries.test_bulk_update",
                  "transaction_hooks", "fixtures", "m2m_through_regress", "many_to_many", "get_or_create",
                  "delete_regress")
#: On the servers, without ``backends``: its PostgreSQL and MySQL tests take the run's longest time there (flushes
#: of its many tables), and fail only where Django's CI differs (psycopg-pool, a real NAME database).
SERVER_MODULES = tuple(module for module in DJANGO_MODULES if module != "backends")
#: django-simple-history 3.13.0 needs Django 5.2 or newer; 3.12.0 (the same runtests.py) is the last for Django 4.2.
SIMPLE_HISTORY = {"new": "django-simple-history==3.13.0", "django<5.2": "django-simple-history==3.12.0"}
#: The suite's packages, as its runtests.py runs them (two DiscoverRunner runs; one pytest session here).
SIMPLE_HISTORY_LABELS = ("simple_history/tests", "simple_history/registry_tests")

PLUGIN_FLAGS = {"django": ["-p", "no:multidb"], "multidb": ["-p", "no:django"]}
#: Both pytest runs alike: the plugins this checkout's environment holds that the suites do not use are off
#: (Faker's, which factory_boy brings, costs ~0.4 s of import at every start; the async ones; xdist unless
#: ``run_pytest`` is given workers), as a suite's own environment would not have them.
COMMON = ["-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:asyncio", "-p", "no:anyio",
          "-p", "no:faker", "-o", "python_files=tests.py test_*.py", "-q"]



def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "pytest-multidb" / "realsuites"
    path.mkdir(parents=True, exist_ok=True)
    return path


def django_version() -> str:
    """The Django version installed in this interpreter's venv (the inner runs use the same interpreter)."""
    import django

    return django.__version__


def sdist_tree(requirement: str) -> Path:
    """The extracted sdist of ``requirement`` (``name==version``), downloaded and extracted once per cache."""
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_').lower()}-{version}"
    cache = cache_dir()
    tree = cache / stem
    done = tree / ".realsuites-extracted"
    with FileLock(str(cache / f"{stem}.lock"), timeout=600):
        if done.exists():
            return tree
        download = cache / "downloads"
        archives = sorted(download.glob(f"{stem}.tar.gz")) if download.exists() else []
        if not archives:
            got = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                                  "--disable-pip-version-check", "-q", "-d", str(download), requirement],
                                 capture_output=True, text=True, timeout=600)
            archives = sorted(download.glob(f"{stem}.tar.gz"))
            if got.returncode != 0 or not archives:
                raise RuntimeError(f"pip download {requirement} failed (exit {got.returncode}):\n"
                                   f"{got.stdout[-2000:]}\n{got.stderr[-2000:]}")
        shutil.rmtree(tree, ignore_errors=True)
        partial = cache / f"{stem}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(archives[0]) as archive:
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            archive.extractall(partial, **kwargs)
        (partial / stem).rename(tree)  # every sdist here has one top folder, ``<name>-<version>``
        partial.rmdir()
        done.touch()
    return tree


def simple_history_requirement() -> str:
    import django

    return SIMPLE_HISTORY["django<5.2" if django.VERSION < (5, 2) else "new"]


@dataclass
class Suite:
    """One real suite in one database configuration, ready to run in ``root`` (a per-run copy)."""

    name: str  # "django" or "simple_history"
    config: str  # "sqlite" or "servers"
    root: Path
    labels: list[str]
    settings: str  # DJANGO_SETTINGS_MODULE; "": the copy's conftest.py configures them
    env: dict[str, str] = field(default_factory=dict)
    token: str = ""
    source: str = ""  # the sdist: "Django==6.1.3", "django-simple-history==3.13.0"

    @property
    def key(self) -> str:
        return f"{self.name}-{self.config}"


def server_databases(token: str) -> dict[str, dict[str, object]]:
    """The server configuration: ``default`` on PostgreSQL, ``other`` on MariaDB (names carry ``token``: the
    databases the plugins make from them are this run's own)."""
    return {
        "default": {"ENGINE": "django.db.backends.postgresql", "NAME": f"django_rs_{token}_default",
                    "HOST": PG["host"], "PORT": PG["port"], "USER": PG["user"]},
        "other": {"ENGINE": "django.db.backends.mysql", "NAME": f"django_rs_{token}_other",
                  "HOST": MARIA["host"], "PORT": MARIA["port"], "USER": MARIA["user"]},
    }


def prepare(name: str, config: str, workdir: Path, modules: Iterable[str] | None = None) -> Suite:
    """Copy the suite's tests into ``workdir`` and add the settings and plugin files beside them. ``modules``:
    Django's test modules (default ``DJANGO_MODULES``, ``SERVER_MODULES`` on the servers)."""
    token = secrets.token_hex(4)
    # The runs' temporary directories are made under workdir/tmp (Django's settings make one per run, as its
    # runtests.py does); pytest-multidb's schema cache (with -p no:cacheprovider) stays in one place across runs.
    env = {"TMPDIR": str(workdir / "tmp"), "MULTIDB_CACHE_DIR": str(workdir / "multidb-cache")}
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", ".realsuites-extracted")
    if name == "django":
        source = f"Django=={django_version()}"
        tree = sdist_tree(source)
        root = workdir / "django-tests"
        shutil.copytree(tree / "tests", root, ignore=ignore)
        for file in ("realsuite_base.py", "realsuite_settings.py", "realsuite_plugin.py"):
            shutil.copy(INNER / file, root / file)
        labels = list(modules or (SERVER_MODULES if config == "servers" else DJANGO_MODULES))
        env["REALSUITE_MODULES"] = ",".join(labels)
        settings = "realsuite_settings"
    elif name == "simple_history" and config == "sqlite":  # its runtests.py's default database
        source = simple_history_requirement()
        tree = sdist_tree(source)
        root = workdir / "simple-history"
        shutil.copytree(tree, root, ignore=ignore)
        shutil.copy(INNER / "realsuite_simple_history_conftest.py", root / "conftest.py")
        # simple_history/__init__.py reads its version from the installed metadata: the sdist's PKG-INFO, as a
        # dist-info beside the package (the copy's root is on the path), stands for the installation.
        info = root / f"{tree.name}.dist-info"
        info.mkdir()
        shutil.copy(tree / "PKG-INFO", info / "METADATA")
        labels = list(SIMPLE_HISTORY_LABELS)
        settings = ""  # runtests.py's settings.configure(), in conftest.py
    else:
        raise ValueError(f"no suite {name!r} in configuration {config!r}")
    if config == "servers":
        env["REALSUITE_DATABASES"] = json.dumps(server_databases(token))
    elif config != "sqlite":
        raise ValueError(config)
    (root / "pytest.ini").write_text("[pytest]\n")  # the rootdir: no ini file above the copy steers the run
    return Suite(name, config, root, labels, settings, env, token, source)


def drop_schema_templates(suite: Suite) -> list[str]:
    """Drop the PostgreSQL schema-cache templates pytest-multidb made for this run (``multidb_tpl_<NAME>_...``).

    pytest-multidb keeps them by design, for later runs with the same NAME and schema (docs/plugin.md, "What
    stays on a server"); a run's NAME carries its token, so no later run would use them. Only names with the
    token are touched. Returns the names dropped.
    """
    if suite.config != "servers":
        return []
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        names = [name for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                  [f"multidb_tpl_%{suite.token}%"]).fetchall()]
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    return names


def clean_env(suite: Suite) -> dict[str, str]:
    """The environment of an inner run: nothing from outside steers pytest or Django; test databases dropped."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "DJANGO_", "MULTIDB_", "REALSUITE_")) and key != "PYTHONPATH"}
    # MULTIDB_KEEP: as tests/conftest.py says, inner projects share configured NAMEs on the servers at once.
    return {**env, **suite.env, "MULTIDB_WARM": "0", "MULTIDB_KEEP": "1000", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass
class Run:
    plugin: str
    seconds: float
    returncode: int
    outcomes: dict[str, str]
    output: str
    report: Path  # the JUnit XML

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    def summary(self) -> dict[str, object]:
        return {"seconds": round(self.seconds, 2), "exit": self.returncode,
                **{outcome: self.count(outcome) for outcome in ("passed", "failed", "skipped")}}


def pytest_path(label: str) -> str:
    """What pytest is given for a test label: a package as it is, a module of one (``auth_tests.test_models``,
    as ``runtests.py`` takes it) as its file."""
    return label.replace(".", "/") + ".py" if "." in label else label


def run_pytest(suite: Suite, plugin: str, timeout: float = 600, workers: int = 0) -> Run:
    """One inner pytest session of ``suite`` with ``plugin`` ("django" or "multidb"), wall-timed; ``workers``:
    that many pytest-xdist workers (``-n``) instead of one process."""
    report = suite.root.parent / f"{suite.key}-{plugin}{f'-n{workers}' if workers else ''}.xml"
    own = ["-p", "realsuite_plugin"] if suite.name == "django" else []  # runtests.setup_run_tests' part
    spread = ["-n", str(workers)] if workers else ["-p", "no:xdist"]
    args = [sys.executable, "-m", "pytest", *PLUGIN_FLAGS[plugin], *COMMON, *spread, *own, f"--junitxml={report}",
            *map(pytest_path, suite.labels)]
    env = {**clean_env(suite), **({"DJANGO_SETTINGS_MODULE": suite.settings} if suite.settings else {})}
    start = time.perf_counter()
    done = subprocess.run(args, cwd=suite.root, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    output = done.stdout + done.stderr
    if not report.exists():
        raise RuntimeError(f"{plugin}: no report from {' '.join(args[1:])} (exit {done.returncode}) in {suite.root}:"
                           f"\n{output[-4000:]}")
    return Run(plugin, seconds, done.returncode, outcomes(report, suite.root), output, report)


def run_native(suite: Suite, timeout: float = 600) -> tuple[float, int, str]:
    """The suite's own runner: Django's ``runtests.py <modules> --settings=realsuite_base --parallel=1``, or
    django-simple-history's ``runtests.py``. (wall seconds, exit status, output)."""
    if suite.name == "django":
        args = [sys.executable, "runtests.py", *suite.labels, "--settings=realsuite_base", "--parallel=1",
                "--noinput"]
    else:
        args = [sys.executable, "runtests.py"]
    env = clean_env(suite)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=suite.root, env=env, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, done.returncode, done.stdout + done.stderr


# -- reports ------------------------------------------------------------------------------------------------------

RANK = {"passed": 0, "skipped": 1, "failed": 2}


def nodeid(classname: str, name: str, root: Path) -> str:
    """pytest's node id from a JUnit ``classname`` (``pkg.module.Class``) and ``name``."""
    if not classname:
        return name  # a collection error: name is the module's dotted path
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        path = "/".join(parts[:cut]) + ".py"
        if (root / path).is_file():
            return "::".join([path, *parts[cut:], name])
    return f"{classname}::{name}"


def outcomes(report: Path, root: Path) -> dict[str, str]:
    """``{nodeid: "passed" | "failed" | "skipped"}`` from a JUnit XML report; an error (setup, teardown,
    collection) or a failed subtest makes the test ``failed``."""
    result: dict[str, str] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        key = nodeid(case.get("classname", ""), case.get("name", ""), root)
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        if key not in result or RANK[outcome] > RANK[result[key]]:
            result[key] = outcome
    return result


def messages(report: Path, root: Path) -> dict[str, str]:
    """``{nodeid: first line of the failure or error message}`` of the failed tests of a JUnit XML report."""
    result: dict[str, str] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        for tag in ("failure", "error"):
            element = case.find(tag)
            if element is not None:
                key = nodeid(case.get("classname", ""), case.get("name", ""), root)
                text = (element.get("message") or element.text or "").strip().splitlines()
                result.setdefault(key, text[0][:200] if text else tag)
    return result


@dataclass
class Comparison:
    regressions: dict[str, str]  # passed under pytest-django, not under pytest-multidb: nodeid -> multidb outcome
    both_failed: set[str]
    only_django_failed: set[str]


def compare(django: Run, multidb: Run) -> Comparison:
    regressions = {test: multidb.outcomes.get(test, "missing") for test, outcome in django.outcomes.items()
                   if outcome == "passed" and multidb.outcomes.get(test) != "passed"}
    both = {test for test, outcome in django.outcomes.items()
            if outcome == "failed" and multidb.outcomes.get(test) == "failed"}
    only_django = {test for test, outcome in django.outcomes.items()
                   if outcome == "failed" and multidb.outcomes.get(test) != "failed"}
    return Comparison(regressions, both, only_django)
