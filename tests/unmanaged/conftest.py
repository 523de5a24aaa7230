"""Unmanaged models and external databases (issue 12): the inner-run fixtures of ``tests/support.py``."""

from tests.support import backend, inner, real, servers  # noqa: F401  (fixtures)
