"""Existing suites through pytest-multidb: the inner-run fixtures of ``tests/support.py``."""

from tests.support import backend, inner, real, servers  # noqa: F401  (fixtures)
