"""What the command line, the ini file and the environment ask of the session's databases, read once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .bootstrap import schema_cache_dir
from .footprint import Policy, policy_from_config
from .provision.xdist import XdistRun
from .warm import WARM_ENV


@dataclass(frozen=True)
class SessionOptions:
    """What the command line and ini asked for (the aliases' own options are ``Aliases``')."""

    migrations: bool = True
    cache_dir: Path | None = None
    rebuild: bool = False
    #: Keep test databases warm for the next run (``warm.py``); ``--multidb-no-warm`` / ``MULTIDB_WARM=0``: not.
    warm: bool = True
    #: Under xdist: the run whose ``process`` / ``container`` servers serve every worker (``provision/xdist.py``).
    xdist: XdistRun | None = None
    #: The bound on what stays on a server between runs (``footprint.py``).
    policy: Policy = field(default_factory=Policy)
    #: MySQL/MariaDB: the driver's autocommit turned off and on around every rollback test, as Django's
    #: ``atomic()`` does (``--multidb-autocommit-each-test``); by default it stays off between two of them.
    autocommit_each_test: bool = False
    #: The checkout this run serves (recorded in the cache's index: the cache is gone once all its checkouts are).
    root: Path | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> SessionOptions:
        return cls(
            migrations=not config.getoption("multidb_no_migrations"),
            cache_dir=schema_cache_dir(config),
            rebuild=config.getoption("multidb_rebuild"),
            warm=not config.getoption("multidb_no_warm") and os.environ.get(WARM_ENV, "1") != "0",
            xdist=XdistRun.from_workerinput(getattr(config, "workerinput", None)),
            policy=policy_from_config(config),
            root=config.rootpath,
            autocommit_each_test=config.getoption("multidb_autocommit_each_test"),
        )
