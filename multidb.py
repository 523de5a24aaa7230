"""``pytest -p multidb`` imports this module: it is the pytest-multidb plugin under its short name.

pytest registers a ``-p`` plugin under the name it was given before it loads entry points, and skips the
``multidb`` entry point when that name is taken, so the plugin is registered exactly once either way.
"""

from pytest_multidb.plugin import *  # noqa: F403
from pytest_multidb.plugin import __all__  # noqa: F401
