"""With pytest's cache provider off (``-p no:cacheprovider``) the schema cache still works, in
``$MULTIDB_CACHE_DIR`` (else ``<tmp>/pytest-multidb-cache/<project>``): a second run reuses the schemas."""

from __future__ import annotations

import pytest

from tests.support.servers import POSTGRES

SUITE = '''
import pytest


@pytest.mark.uses_db("a", "b")
def test_x():
    pass
'''


@pytest.mark.servers
def test_schema_cache_without_the_cache_provider(inner, pytester):
    pytester.makepyfile(test_x=SUITE)
    fallback = pytester.path / "elsewhere"
    env = {"MULTIDB_CACHE_DIR": str(fallback)}
    first = inner("-p", "no:cacheprovider", backend=POSTGRES, env=env)
    first.result.assert_outcomes(passed=1)
    assert first.summary()["a"]["cache"] == "built"  # a fresh cache directory
    second = inner("-p", "no:cacheprovider", backend=POSTGRES, env=env)
    second.result.assert_outcomes(passed=1)
    assert {alias: line["cache"] for alias, line in second.summary().items()} == {"a": "cached", "b": "cached"}
    assert any(fallback.iterdir()) and not (pytester.path / ".pytest_cache").exists()
