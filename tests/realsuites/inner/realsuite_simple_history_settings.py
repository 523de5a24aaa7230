"""Settings as django-simple-history's ``runtests.py`` builds them (``get_default_settings``, sqlite3).

Written into the per-run copy of the django-simple-history sdist by ``tests/realsuites/harness.py``.
"""

import os

import runtests

globals().update(runtests.get_default_settings(database_name=os.environ.get("REALSUITE_DATABASE", "sqlite3")))
