"""Fault tests: kills, dead servers, broken connections and bad input, through real inner runs
(the fixtures of ``tests/support.py``)."""

from tests.support import backend, inner, real, servers  # noqa: F401  (fixtures)
