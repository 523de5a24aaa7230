"""The files of inner projects that several tests use, kept as real modules under ``tests/projects/`` (linted,
importable by name in an inner run once copied into its directory):

- ``inner_helpers.py`` and ``inner_pidfile.py``: in every inner run of ``tests/support/inner.py``;
- ``shopapp``: three models, one per alias (the schema cache and warm database tests);
- ``notes``: one model and a data migration writing a row (Django test classes, committing cleanup);
- ``seeded``: one model, its initial migration written per test by ``seeded_app`` around the test's seed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "tests" / "projects"


def copy_project(target: Path, *names: str) -> None:
    """Copy ``tests/projects/<name>`` (a module or an app's folder) into ``target`` for each name."""
    for name in names:
        source = PROJECTS / name
        if source.is_dir():
            shutil.copytree(source, target / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)


#: The initial migration of the ``seeded`` app; ``{seed}`` is the body of ``def seed(apps, schema_editor):``.
SEEDED_MIGRATION = """import json
from pathlib import Path

from django.db import migrations, models


def seed(apps, schema_editor):
{seed}


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Note", [("id", models.AutoField(primary_key=True)),
                                        ("text", models.CharField(max_length=20))]),
        migrations.RunPython(seed),
    ]
"""


def seeded_app(pytester: pytest.Pytester, seed: str) -> Path:
    """Write the app ``seeded`` (model ``Note``) whose initial migration runs ``seed`` (the body of
    ``def seed(apps, schema_editor):``, indented); returns its ``migrations`` folder."""
    copy_project(pytester.path, "seeded")
    migrations = pytester.mkpydir("seeded/migrations")
    (migrations / "0001_initial.py").write_text(SEEDED_MIGRATION.format(seed=seed))
    return migrations
