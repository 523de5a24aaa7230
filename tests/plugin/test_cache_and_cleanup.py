"""Schema cache (reuse, rebuild on model change) and crash-safe cleanup (kill -9, concurrent runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.projects import copy_project

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": os.environ.get("MULTIDB_PG_HOST", "127.0.0.1"), "port": os.environ.get("MULTIDB_PG_PORT", "5432"),
      "user": os.environ.get("MULTIDB_PG_USER", "postgres")}

pytestmark = pytest.mark.servers

SETTINGS = f"""
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "shopapp"]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "real_default.db"}}}}
OTHER_DATABASES = {{
    "pg": {{"ENGINE": "postgresql", "NAME": "multidb_cachetest", "HOST": "{PG["host"]}", "PORT": "{PG["port"]}",
            "USER": "{PG["user"]}", "MODELS": ["shopapp.Order"]}},
    "maria": {{"ENGINE": "mysql", "NAME": "multidb_cachetest", "HOST": "127.0.0.1", "USER": "root",
               "MODELS": ["shopapp.Invoice"]}},
}}
"""
TESTS = """
import pytest
from shopapp.models import Invoice, Note, Order


@pytest.mark.uses_db("default", "pg", "maria")
def test_write():
    Note.objects.create(text="n")
    Order.objects.create(code="o")
    Invoice.objects.create()
    assert (Note.objects.count(), Order.objects.count(), Invoice.objects.count()) == (1, 1, 1)
"""


def _project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> str:
    """The shop project, its databases named ``multidb_cachetest_<random>`` (templates of other sessions of this
    test, under the same name, would be found and used). Returns the PostgreSQL templates' name prefix."""
    name = f"multidb_cachetest_{uuid.uuid4().hex[:6]}"
    pytester.makepyfile(inner_settings=SETTINGS.replace("multidb_cachetest", name), test_shop=TESTS)
    copy_project(pytester.path, "shopapp")
    monkeypatch.setenv("PYTHONPATH", f"{pytester.path}{os.pathsep}{ROOT}")
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return f"multidb_tpl_{name}_"


def _schema_sources(result: pytest.RunResult) -> dict[str, str]:
    """alias -> 'built' / 'cached', from the report's summary lines."""
    found = {}
    for line in result.stdout.lines:
        if line.startswith("multidb: ") and "schema" in line and line.rstrip().endswith(")"):
            alias = line.split(":")[1].strip()
            found[alias] = line.rsplit(", ", 1)[1].rstrip(")")
    return found


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = pytester.runpytest_subprocess("-p", "no:django", "-p", "no:randomly",
                                           "--multidb-settings", "inner_settings", *args)
    result.assert_outcomes(passed=1)
    return result


def test_schema_is_reused_and_rebuilt_after_a_model_change(pytester, monkeypatch, servers):
    prefix = _project(pytester, monkeypatch)
    try:
        _reused_and_rebuilt(pytester, servers, prefix)
    finally:
        for (name,) in servers.pg(f"SELECT datname FROM pg_database WHERE left(datname, {len(prefix)}) = '{prefix}'"):
            servers.pg(f'DROP DATABASE "{name}"')


def _reused_and_rebuilt(pytester: pytest.Pytester, servers, prefix: str) -> None:
    assert _schema_sources(_run(pytester)) == {"default": "built", "pg": "built", "maria": "built"}
    assert _schema_sources(_run(pytester)) == {"default": "cached", "pg": "cached", "maria": "cached"}
    assert _schema_sources(_run(pytester, "--multidb-rebuild")) == {
        "default": "built", "pg": "built", "maria": "built"}

    # A new column on every model: every alias must notice and rebuild, and the new column must exist.
    models = pytester.path / "shopapp" / "models.py"
    extra = "(models.Model):\n    extra = models.IntegerField(default=3)"
    models.write_text(models.read_text().replace("(models.Model):", extra))
    check = "assert Note.objects.get().extra == Order.objects.get().extra == Invoice.objects.get().extra == 3\n    "
    pytester.makepyfile(test_shop=TESTS.replace("    assert (", f"    {check}assert ("))
    assert _schema_sources(_run(pytester)) == {"default": "built", "pg": "built", "maria": "built"}
    assert _schema_sources(_run(pytester)) == {"default": "cached", "pg": "cached", "maria": "cached"}

    templates = servers.pg(f"SELECT datname FROM pg_database WHERE left(datname, {len(prefix)}) = '{prefix}'")
    assert len(templates) == 1, templates  # the template of the old schema was replaced, not kept beside it


# -- crash-safe cleanup ------------------------------------------------------------------------------------------

HANGING = """
import os, time
import pytest
from sample_models.widgets.models import Widget
from sample_models.cycles.models import Category


@pytest.mark.uses_db("b", "c")
def test_hangs():
    Widget.objects.create(code="w", weight=1)
    Category.objects.create(name="c")
    open(os.environ["READY_FILE"], "w").close()
    while not os.path.exists(os.environ["RELEASE_FILE"]):
        time.sleep(0.05)
"""


def _start(pytester: pytest.Pytester, name: str, env: dict[str, str],
           *extra: str) -> tuple[subprocess.Popen, Path, Path]:
    ready, release = pytester.path / f"{name}.ready", pytester.path / f"{name}.release"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:randomly", "-p", "no:cacheprovider",
         "--multidb-settings", "sample_models.settings", "test_hanging.py", *extra],
        cwd=pytester.path, env={**env, "READY_FILE": str(ready), "RELEASE_FILE": str(release),
                                "PYTEST_XDIST_WORKER": name},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the inner run never reached its test"
        time.sleep(0.05)
    return process, ready, release


def _test_databases(servers, token: str) -> set[str]:
    return {name for name in servers.databases() if token in name}


def _server_processes(registry: Path, owner: int) -> list[dict]:
    """Server processes the registry records for the run with pid ``owner``."""
    records = [json.loads(path.read_text()) for path in registry.glob("*.json")]
    return [r for r in records if r["type"] == "process" and r["owner_pid"] == owner]


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_kill_9_leftovers_are_removed_by_the_next_run_but_a_live_run_is_left_alone(pytester, monkeypatch, servers):
    pytester.makepyfile(test_hanging=HANGING)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1",
           "MULTIDB_SAMPLE_DIR": str(pytester.path / "real"), "MULTIDB_REGISTRY": str(pytester.path / "registry"),
           "MULTIDB_CACHE_DIR": str(pytester.path / "multidb-cache")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("PYTEST_ADDOPTS", None)

    registry = pytester.path / "registry"
    # Both runs: b on the PostgreSQL server (a test database), c on a throwaway MariaDB server process.
    # Worker names unique to this session: they are part of the test databases' names, looked for on the servers.
    killed_name, alive_name = f"killed{uuid.uuid4().hex[:6]}", f"alive{uuid.uuid4().hex[:6]}"
    killed, _, _ = _start(pytester, killed_name, env, "--multidb-provision", "c=process")
    live, _, release_live = _start(pytester, alive_name, env, "--multidb-provision", "c=process")  # while killed runs
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert {name.split(":")[0] for name in _test_databases(servers, killed_name)} == {"pg"}
        [orphan] = _server_processes(registry, killed.pid)
        assert _alive(orphan["pid"]) and Path(orphan["directory"]).exists()  # the killed run's server lives on
        [live_server] = _server_processes(registry, live.pid)
        assert len(_test_databases(servers, alive_name)) == 1
        # A third run: cleans what the killed run left, reports it, and leaves the live run's databases alone.
        monkeypatch.setenv("MULTIDB_REGISTRY", env["MULTIDB_REGISTRY"])
        monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
        monkeypatch.setenv("MULTIDB_SAMPLE_PG", "1")
        monkeypatch.setenv("MULTIDB_SAMPLE_MARIA", "1")
        monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
        pytester.makepyfile(test_quick="""
import pytest

@pytest.mark.uses_db("b")
def test_quick():
    pass
""")
        result = pytester.runpytest_subprocess("-p", "no:django", "-p", "no:randomly", "-p", "no:cacheprovider",
                                               "--multidb-settings", "sample_models.settings", "test_quick.py")
        result.assert_outcomes(passed=1)
        removed = [line for line in result.stdout.lines if line.startswith("multidb: removed leftover")]
        assert len(removed) == 2, result.stdout.str()
        assert any(line.startswith("multidb: removed leftover database 'test_multidb_sample_widgets_")
                   for line in removed), removed
        assert any(line.startswith(f"multidb: removed leftover server process {orphan['pid']}")
                   for line in removed), removed
        assert all(f"left by pid {killed.pid}" in line for line in removed)
        assert _test_databases(servers, killed_name) == set()
        assert not _alive(orphan["pid"]) and not Path(orphan["directory"]).exists()
        # The concurrent live run was not touched.
        assert len(_test_databases(servers, alive_name)) == 1
        assert _alive(live_server["pid"])
    finally:
        release_live.touch()
        output = live.communicate(timeout=60)[0]
    assert live.returncode == 0, output
    assert _test_databases(servers, alive_name) == set()
    assert not _alive(live_server["pid"])
    assert list(registry.glob("*.json")) == []


def test_multidb_clean_lists_and_removes_leftovers(pytester, servers):
    pytester.makepyfile(test_hanging=HANGING)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1",
           "MULTIDB_SAMPLE_DIR": str(pytester.path / "real"), "MULTIDB_REGISTRY": str(pytester.path / "registry"),
           "MULTIDB_CACHE_DIR": str(pytester.path / "multidb-cache")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("PYTEST_ADDOPTS", None)
    name = f"cleanme{uuid.uuid4().hex[:6]}"
    killed, _, _ = _start(pytester, name, env)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert len(_test_databases(servers, name)) == 2
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:django", "--multidb-settings",
                           "sample_models.settings", "--multidb-clean"], cwd=pytester.path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "multidb: 2 leftover(s) of dead runs" in done.stdout
    assert done.stdout.count("multidb: removed database") == 2
    assert _test_databases(servers, name) == set()
