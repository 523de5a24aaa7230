"""Settings for ``manage.py multidb_migrate`` run for real (``tests/commands``): four fresh databases.

``default`` and ``a`` are sqlite files under ``MULTIDB_MIGRATE_DIR``; ``pg`` and ``maria`` are the databases
named ``MULTIDB_MIGRATE_NAME`` on the local servers (the tests create and drop them). Listed out of order on
purpose: ``maria`` depends on ``pg`` (``TEST["DEPENDENCIES"]``) and ``pg``'s exhibits point at ``a``'s artists,
so the command migrates ``default, a, pg, maria``. ``MULTIDB_MIGRATE_UNREACHABLE=pg`` points ``pg`` at a port
nobody listens on; ``MULTIDB_MIGRATE_CYCLE=1`` makes ``pg`` depend on ``maria`` too.
"""

import os

DIR = os.environ.get("MULTIDB_MIGRATE_DIR", "/tmp")
NAME = os.environ.get("MULTIDB_MIGRATE_NAME", "multidb_migrate_manual")
UNREACHABLE = os.environ.get("MULTIDB_MIGRATE_UNREACHABLE", "")
CLOSED_PORT = "9"  # discard: nothing listens there on the test machines

SECRET_KEY = "migrate-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
#: pg's exhibits point at a's artists on purpose; the tests read the command's own output.
SILENCED_SYSTEM_CHECKS = ["multidb.W001"]
INSTALLED_APPS = ["django.contrib.contenttypes", "pytest_multidb", "sample_models.artists",
                  "sample_models.widgets", "sample_models.cycles"]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{DIR}/default.db"}}
OTHER_DATABASES = {
    "maria": {
        "ENGINE": "mysql", "NAME": NAME, "USER": os.environ.get("MULTIDB_MARIA_USER", "root"),
        "HOST": os.environ.get("MULTIDB_MARIA_HOST", "127.0.0.1"),
        "PORT": os.environ.get("MULTIDB_MARIA_PORT", "3306"),
        "OPTIONS": {"charset": "utf8mb4"}, "MODELS": ["cycles"], "TEST": {"DEPENDENCIES": ["pg"]},
    },
    "pg": {
        "ENGINE": "postgresql", "NAME": NAME, "USER": os.environ.get("MULTIDB_PG_USER", "postgres"),
        "HOST": os.environ.get("MULTIDB_PG_HOST", "127.0.0.1"),
        "PORT": CLOSED_PORT if UNREACHABLE == "pg" else os.environ.get("MULTIDB_PG_PORT", "5432"),
        "MODELS": ["widgets"], "TEST": {"DEPENDENCIES": ["maria"] if os.environ.get("MULTIDB_MIGRATE_CYCLE") else []},
    },
    "a": {"ENGINE": "sqlite3", "NAME": f"{DIR}/a.db", "MODELS": ["artists"]},
}
