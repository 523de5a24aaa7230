"""Inner pytest runs (the ``inner`` fixture): every plugin and fault test runs an inner pytest in a subprocess
(``pytester.runpytest_subprocess``), and asserts on its output.

Django can be set up once per process, so each inner run is a fresh interpreter. The inner runs use the sample
project (``sample_models.settings``, see ``tests/support/servers.py``); the "real" sqlite files would live under
``<pytester path>/real``. Inner test code imports ``inner_helpers`` (``tests/projects/inner_helpers.py``, copied
into every inner run).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.projects import ROOT, copy_project
from tests.support.servers import SQLITE, Backend, server_databases

SETTINGS = ("--multidb-settings", "sample_models.settings")
#: pytest-asyncio and anyio are in the dev venv; inner runs load them only when they say so (``-p asyncio``).
PLUGINS = ("-p", "no:django", "-p", "no:randomly", "-p", "no:asyncio", "-p", "no:anyio")


# -- one line, no traceback ---------------------------------------------------------------------------------------


def assert_no_traceback(text: str) -> None:
    """No Python traceback, no pytest internal error and no chained exception in a run's output."""
    for sign in ("Traceback", "INTERNALERROR", "During handling of the above exception",
                 "The above exception was the direct cause"):
        assert sign not in text, text


def assert_one_line(run: Inner, line: str) -> None:
    """``line`` (after pytest's ``ERROR: ``) is all the run wrote to stderr, and nothing was provisioned."""
    assert [found for found in run.err.splitlines() if found.strip()] == [f"ERROR: {line}"], run.err
    assert line not in run.out
    assert "provisioning" not in run.out
    assert_no_traceback(f"{run.out}\n{run.err}")


def assert_test_failed_in_one_line(run: Inner, line: str) -> None:
    """A test failed with ``line`` as its whole report (no traceback, no chained exception) and the run went on."""
    assert_no_traceback(run.out + run.err)
    assert line in run.out, run.out


# -- inner runs --------------------------------------------------------------------------------------------------


SUMMARY_LINE = re.compile(
    r"^multidb: (?P<alias>\w+): (?P<kind>\w+) (?P<engine>[\w.]+) (?P<name>\S+) "
    r"\((?P<seconds>\d+\.\d\d)s \+ schema (?P<schema>\d+\.\d\d)s(?:, (?P<cache>[^)]+))?\)$"
)


@dataclass
class Inner:
    """The result of an inner run: its pid, and the xdist worker token it ran as (``worker=True``; part of
    every test database name it made), else ``""``."""

    result: pytest.RunResult
    token: str
    pid: int | None = None

    @property
    def out(self) -> str:
        return self.result.stdout.str()

    @property
    def err(self) -> str:
        return self.result.stderr.str()

    def summary(self) -> dict[str, dict[str, str]]:
        """The report's ``multidb`` section: alias -> kind, engine, name, seconds (one line per alias)."""
        lines = self.out.splitlines()
        start = next((i for i, line in enumerate(lines) if re.match(r"^=+ multidb =+$", line)), None)
        if start is None:
            return {}
        found: dict[str, dict[str, str]] = {}
        for line in lines[start + 1:]:
            if not line.strip() and not found:
                continue
            match = SUMMARY_LINE.match(line)
            if not match:
                break
            assert match["alias"] not in found, f"two summary lines for {match['alias']!r}:\n{self.out}"
            found[match["alias"]] = match.groupdict()
        return found

    def leftovers(self) -> set[str]:
        """Server databases this run made and did not remove (found by its worker token, or by its pid)."""
        if self.token:
            return {name for name in server_databases() if self.token in name}
        assert self.pid is not None, "the inner run never started"
        made = re.compile(rf"^(pg|maria):test_\w+_{self.pid}[0-9a-f]{{4}}$")
        return {name for name in server_databases() if made.match(name)}


class InnerRunner:
    """``inner(*args, backend=POSTGRES)``: run the files written with ``pytester`` in a fresh interpreter."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        # inner_pidfile, loaded with -p inner_pidfile: the inner process's pid, as soon as pytest starts (before
        # anything is provisioned). A plain run names its server test databases test_<NAME>_<pid><4 hex>, so
        # the pid finds whatever it left.
        copy_project(pytester.path, "inner_helpers.py", "inner_pidfile.py")
        # Exists, so that anything opening the real sqlite files would create them there (and be caught).
        self.real_dir.mkdir()
        monkeypatch.setenv("PYTHONPATH", str(ROOT))
        monkeypatch.setenv("MULTIDB_SAMPLE_DIR", str(self.real_dir))
        for var in ("DJANGO_SETTINGS_MODULE", "MULTIDB_SAMPLE_PG", "MULTIDB_SAMPLE_MARIA", "INNER_SERVER_ALIAS",
                    "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"):
            monkeypatch.delenv(var, raising=False)

    @property
    def real_dir(self) -> Path:
        """Where the sample settings put the *real* sqlite files (nothing may ever appear there)."""
        return self.pytester.path / "real"

    def __call__(self, *args: str, backend: Backend = SQLITE, settings: bool = True, plugins: bool = True,
                 env: dict[str, str] | None = None, worker: bool = False, warm: bool = False,
                 timeout: float = 120) -> Inner:
        # A plain run by default, as users run it. worker=True: run as an xdist worker with a unique id, which
        # the plugin puts in every server test database name (test_<NAME>_<run>_<worker>).
        token = f"t{uuid.uuid4().hex[:8]}" if worker else ""
        pid_file = self.pytester.path / f"inner-{uuid.uuid4().hex[:8]}.pid"
        # Each inner run has a registry of its own: what other runs on this machine left (or are doing) never
        # shows in its output. A test about the registry passes MULTIDB_REGISTRY itself. With -p no:cacheprovider
        # the schema cache goes to the test's own directory too. Test databases are dropped at the end unless
        # warm=True (a test about warm databases), so that each test sees a run make its own.
        variables = {"INNER_SERVER_ALIAS": backend.alias, "INNER_PID_FILE": str(pid_file),
                     "MULTIDB_WARM": "1" if warm else "0",
                     "MULTIDB_REGISTRY": str(self.pytester.path / "registry"),
                     "MULTIDB_CACHE_DIR": str(self.pytester.path / "multidb-cache"), **(env or {})}
        if worker:
            variables["PYTEST_XDIST_WORKER"] = token
        if backend.pg:
            variables["MULTIDB_SAMPLE_PG"] = "1"
        if backend.maria:
            variables["MULTIDB_SAMPLE_MARIA"] = "1"
        with self.monkeypatch.context() as patch:
            for name, value in variables.items():
                patch.setenv(name, value)
            full = [*(PLUGINS if plugins else ()), "-p", "inner_pidfile", *(SETTINGS if settings else ()), *args]
            result = self.pytester.runpytest_subprocess(*full, timeout=timeout)
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        return Inner(result, token, pid)


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> InnerRunner:
    """Run an inner pytest on the sample project: ``inner("-v", backend=POSTGRES).result.assert_outcomes(...)``."""
    return InnerRunner(pytester, monkeypatch)
