"""pytest-django, when installed, steps aside: it is not loaded, so one plugin owns every test database.

``plugin.py`` calls ``step_aside`` before it registers ``compat.pytest_django``, which serves pytest-django's whole
vocabulary (docs/pytest-django.md); a suite migrating file by file mixes both vocabularies on the same aliases.
``-p no:multidb`` runs pytest-django alone.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import PackageNotFoundError, version

import pytest

from ..messages import compat as texts

#: Registered when pytest-django is installed and steps aside (the header says so).
STEPPED_ASIDE = "multidb.pytest_django_stepped_aside"


class SteppedAside:
    """The mark that pytest-django is installed but does not load in this run: its version, for the header."""

    def __init__(self, version: str) -> None:
        self.version = version


def step_aside(pluginmanager: pytest.PytestPluginManager) -> None:
    """Keep pytest-django from loading (or unregister it if it loaded first) when it is installed: pytest-multidb
    serves its whole vocabulary itself, so one plugin owns every test database and every test (docs/pytest-django.md).
    ``-p no:multidb`` runs pytest-django alone; ``-p no:django`` was the user's own choice and is not reported."""
    if pluginmanager.is_blocked("django") and not pluginmanager.has_plugin("django"):
        return
    if not pluginmanager.has_plugin("django") and importlib.util.find_spec("pytest_django") is None:
        return
    try:
        found = version("pytest-django")
    except PackageNotFoundError:
        found = "?"
    pluginmanager.set_blocked("django")  # unregisters it too if it is already registered
    pluginmanager.register(SteppedAside(found), STEPPED_ASIDE)


def stepped_aside_line(config: pytest.Config) -> str | None:
    """The header line saying which plugin serves what, when pytest-django stepped aside."""
    mark = config.pluginmanager.get_plugin(STEPPED_ASIDE)
    if mark is None:
        return None
    return texts.STEPS_ASIDE.format(version=mark.version)
