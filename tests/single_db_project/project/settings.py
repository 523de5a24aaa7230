"""A single-database Django project: one DATABASES entry, no OTHER_DATABASES, pytest_multidb installed.

Its test suite is plain Django (``python -m django test``); it must pass with and without pytest_multidb
(``project.settings_without_multidb``).
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "single-db-project"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["pytest_multidb", "django.contrib.contenttypes", "django.contrib.auth", "library"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
