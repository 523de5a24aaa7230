"""Settings as django-simple-history's ``runtests.py`` builds them (``get_default_settings``, its default database:
sqlite3).

Written into the per-run copy of the django-simple-history sdist by ``tests/realsuites/harness.py``.
"""

import runtests

globals().update(runtests.get_default_settings())
