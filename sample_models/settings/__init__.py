"""Settings of the sample project used by the docs, the demo and the tests.

Every alias runs on sqlite unless asked otherwise, so the demo needs no server:

- ``MULTIDB_SAMPLE_PG=1`` puts alias ``b`` (widgets) on the PostgreSQL server at ``MULTIDB_PG_HOST`` (127.0.0.1);
- ``MULTIDB_SAMPLE_MARIA=1`` puts alias ``c`` (cycles) on the MariaDB server at ``MULTIDB_MARIA_HOST`` (127.0.0.1).

The configured NAMEs are the "real" databases; pytest-multidb never touches them, it provisions test copies.
"""

import os
from pathlib import Path

BASE = Path(os.environ.get("MULTIDB_SAMPLE_DIR", Path(__file__).resolve().parent.parent / "var"))

SECRET_KEY = "sample-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "sample_models.urls"
ALLOWED_HOSTS = ["*"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ]},
    }
]
INSTALLED_APPS = [
    # A realistic 'default': Django's own apps, with migrations and post_migrate data (contenttypes,
    # permissions), beside the sample apps spread over the other aliases.
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "pytest_multidb",
    "sample_models.artists",
    "sample_models.widgets",
    "sample_models.cycles",
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE / "main.db")}}

POSTGRES = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "multidb_sample_widgets",
    "USER": os.environ.get("MULTIDB_PG_USER", "postgres"),
    "HOST": os.environ.get("MULTIDB_PG_HOST", "127.0.0.1"),
    "PORT": os.environ.get("MULTIDB_PG_PORT", "5432"),
    "MODELS": ["widgets"],
    # For --multidb-provision b=container (the demo and the tests use locally built images).
    "TEST": {"IMAGE": os.environ.get("MULTIDB_PG_IMAGE", "postgres:16")},
}
MARIADB = {
    "ENGINE": "django.db.backends.mysql",
    "NAME": "multidb_sample_cycles",
    "USER": os.environ.get("MULTIDB_MARIA_USER", "root"),
    "HOST": os.environ.get("MULTIDB_MARIA_HOST", "127.0.0.1"),
    "PORT": os.environ.get("MULTIDB_MARIA_PORT", "3306"),
    "OPTIONS": {"charset": "utf8mb4"},
    "MODELS": ["cycles"],
    "TEST": {"IMAGE": os.environ.get("MULTIDB_MARIA_IMAGE", "mariadb:11")},
}

OTHER_DATABASES = {
    # The seed's settings shape, verbatim: old-style keys and a short engine name.
    "a": {"DATABASE_ENGINE": "sqlite3", "DATABASE_NAME": str(BASE / "dba.db"), "MODELS": ["artists"]},
    "b": POSTGRES if os.environ.get("MULTIDB_SAMPLE_PG") else
         {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE / "dbb.db"), "MODELS": ["widgets"]},
    "c": MARIADB if os.environ.get("MULTIDB_SAMPLE_MARIA") else
         {"ENGINE": "sqlite3", "NAME": str(BASE / "dbc.db"), "MODELS": ["cycles"]},
}
