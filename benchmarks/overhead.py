"""Per-test overhead and session start-up, pytest-multidb beside pytest-django, on the same suite.

    python benchmarks/overhead.py [--tests N] [--runs R]

Generates a small Django project and one suite of N tests (each writes a row and counts it, in a
transaction rolled back afterwards), marked once for pytest-django (``django_db``) and once for
pytest-multidb (``uses_db``). Each plugin runs its suite alone (the other one disabled), R times; the
medians give:

- session start-up: the wall time of a 1-test run;
- per-test overhead: (wall(N tests) - wall(1 test)) / (N - 1).

Both on sqlite (pytest-django: its in-memory test database; pytest-multidb: its temp file) and, with
``--postgres``, on the local PostgreSQL server. Ratios are pytest-multidb / pytest-django (lower is better).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _run import run_pytest

SETTINGS = """
import os
SECRET_KEY = "bench"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "benchapp"]
if os.environ.get("BENCH_PG"):
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "multidb_bench",
                             "HOST": "127.0.0.1", "USER": "postgres"}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "bench.db"}}
"""
MODELS = """
from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=20)
"""
TEST = """
import pytest

from benchapp.models import Item


@pytest.mark.{marker}
@pytest.mark.parametrize("n", range({count}))
def test_item(n):
    Item.objects.create(name=str(n))
    assert Item.objects.count() == 1
"""
PLUGINS = {
    "pytest-django": (["-p", "no:multidb", "-p", "django", "--ds", "bench_settings"], "django_db"),
    "pytest-multidb": (
        ["-p", "no:django", "-p", "multidb", "--multidb-settings", "bench_settings"], 'uses_db("default")'
    ),
}


def project(root: Path) -> None:
    (root / "benchapp").mkdir()
    (root / "benchapp" / "__init__.py").write_text("")
    (root / "benchapp" / "models.py").write_text(MODELS)
    (root / "bench_settings.py").write_text(SETTINGS)


def suite(root: Path, plugin: str, count: int) -> Path:
    path = root / f"test_{plugin.replace('-', '_')}_{count}.py"
    path.write_text(TEST.format(marker=PLUGINS[plugin][1], count=count))
    return path


def measure(root: Path, plugin: str, count: int, runs: int, env: dict[str, str]) -> float:
    test_file = suite(root, plugin, count)
    args = [*PLUGINS[plugin][0], "-p", "no:randomly", "-p", "no:cacheprovider", "-o", "addopts=", str(test_file)]
    return statistics.median(run_pytest(args, root, env)[0] for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also on the local PostgreSQL server")
    options = parser.parse_args()
    backends = {"sqlite": {}} | ({"postgresql": {"BENCH_PG": "1"}} if options.postgres else {})
    with tempfile.TemporaryDirectory(prefix="multidb-bench-") as tmp:
        root = Path(tmp)
        project(root)
        for backend, env in backends.items():
            results = {}
            for plugin in PLUGINS:
                one = measure(root, plugin, 1, options.runs, env)
                many = measure(root, plugin, options.tests, options.runs, env)
                results[plugin] = (one, (many - one) / (options.tests - 1))
            (dj_start, dj_test), (md_start, md_test) = results["pytest-django"], results["pytest-multidb"]
            print(f"{backend}: {options.tests} tests, median of {options.runs} runs")
            print(f"  session start-up  pytest-django {dj_start:.3f}s  pytest-multidb {md_start:.3f}s  "
                  f"ratio {md_start / dj_start:.2f}")
            print(f"  per-test overhead pytest-django {dj_test * 1e3:.2f}ms  pytest-multidb {md_test * 1e3:.2f}ms  "
                  f"ratio {md_test / dj_test:.2f}")


if __name__ == "__main__":
    main()
