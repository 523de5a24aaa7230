"""Every key pytest-multidb keeps in a pytest stash, in one place (pytest's own ``StashKey``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # types only: every module may import the keys, whatever it sits above
    from .isolation import TestDatabases
    from .markers import Declaration
    from .provision.xdist import XdistRun

#: ``config.stash``: the run object (``run.MultiDB``).
RUN_KEY = pytest.StashKey["MultiDB"]()  # ``run.MultiDB``, named only: the run sits above every key's user
#: ``config.stash``: what Django's bootstrap did (``bootstrap.py``).
BOOTSTRAP_KEY: pytest.StashKey[dict[str, Any]] = pytest.StashKey()
#: ``config.stash``: the xdist controller's run, whose servers serve every worker.
XDIST_KEY: pytest.StashKey[XdistRun] = pytest.StashKey()
#: ``config.stash``: the xdist workers' summary lines, shown by the controller.
WORKER_LINES_KEY: pytest.StashKey[list[str]] = pytest.StashKey()
#: ``item.stash``: a test's declaration (``uses_db``, ``django_db``, a Django test class's ``databases``).
DECLARATION_KEY: pytest.StashKey[Declaration] = pytest.StashKey()
#: ``item.stash``: the running test's databases.
TEST_KEY: pytest.StashKey[TestDatabases] = pytest.StashKey()
#: ``config.stash``: ``django_db_setup`` (or an override of it, of any scope) ran since the baselines were last
#: brought up to date (``compat.database_fixtures``).
DB_SETUP_RAN_KEY: pytest.StashKey[bool] = pytest.StashKey()
