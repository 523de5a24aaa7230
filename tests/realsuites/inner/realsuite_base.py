"""The base settings of Django's test suite (the ``--settings`` that ``runtests.py`` takes): ``test_sqlite``, with
its ``DATABASES`` replaced by ``$REALSUITE_DATABASES`` (JSON) when that is set (the server configuration).

Written into the per-run copy of Django's ``tests/`` by ``tests/realsuites/harness.py``.
"""

import json
import os

from test_sqlite import *  # noqa: F403  (DATABASES, SECRET_KEY, PASSWORD_HASHERS, USE_TZ, ...)

if os.environ.get("REALSUITE_DATABASES"):
    DATABASES = json.loads(os.environ["REALSUITE_DATABASES"])
