"""The project's own suite.

Every pytest run this suite starts (inner runs, benchmarks, demos) drops its test databases at the end, so that
each test sees a run make its own and nothing piles up on the servers: ``MULTIDB_WARM=0``, inherited by their
processes. The tests of warm databases (``tests/plugin/test_warm.py``) turn them on for their runs.

The fixtures every folder shares (``backend``, ``servers``, ``inner``, ``real``) are in ``tests/support/``.
"""

import os

pytest_plugins = ["tests.support.servers", "tests.support.inner", "tests.support.real"]

os.environ["MULTIDB_WARM"] = "0"
# Many inner projects share one configured NAME (the sample project's) on the local servers at once: the bound on
# what stays there (docs/safety.md) would have their runs drop each other's templates. Its own tests set it.
os.environ["MULTIDB_KEEP"] = "1000"
