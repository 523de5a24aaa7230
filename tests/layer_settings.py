"""Settings for the multi-DB layer tests: one alias on each real backend.

``tests/layer/conftest.py`` creates the databases named here (unique per run) and drops them afterwards.
"""

import os
import tempfile

RUN = os.environ.get("MULTIDB_LAYER_RUN", "manual")
TMP = os.environ.get("MULTIDB_LAYER_DIR", tempfile.gettempdir())

SECRET_KEY = "layer-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "sample_models.urls"
INSTALLED_APPS = ["pytest_multidb", "sample_models.artists", "sample_models.widgets", "sample_models.cycles"]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{TMP}/layer_{RUN}_default.db"}}
OTHER_DATABASES = {
    # The seed's shape: old-style keys, short engine name.
    "a": {"DATABASE_ENGINE": "sqlite3", "DATABASE_NAME": f"{TMP}/layer_{RUN}_a.db", "MODELS": ["artists"]},
    "pg": {
        "ENGINE": "postgresql",
        "NAME": f"multidb_layer_{RUN}",
        "USER": os.environ.get("MULTIDB_PG_USER", "postgres"),
        "HOST": os.environ.get("MULTIDB_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("MULTIDB_PG_PORT", "5432"),
        "MODELS": ["widgets"],
    },
    "maria": {
        "DATABASE_ENGINE": "mysql",
        "DATABASE_NAME": f"multidb_layer_{RUN}",
        "DATABASE_USER": os.environ.get("MULTIDB_MARIA_USER", "root"),
        "DATABASE_HOST": os.environ.get("MULTIDB_MARIA_HOST", "127.0.0.1"),
        "DATABASE_PORT": os.environ.get("MULTIDB_MARIA_PORT", "3306"),
        "DATABASE_OPTIONS": {"charset": "utf8mb4"},
        "MODELS": ["cycles"],
    },
}
