"""pytest-django's vocabulary when pytest-django is not loaded: its marker, options and ini keys, mapped onto ours.

Registered by ``plugin.py`` as the plugin ``multidb.pytest_django`` only when pytest-django will not load
(not installed, or ``-p no:django``): with pytest-django loaded, it owns these names and nothing of ours is
registered under them. The ``django_db`` marker becomes a declaration like ``uses_db``'s: ``databases``
(``None``: ``default``; ``"__all__"``: every alias), ``transaction=True``: every declared alias commits and is
emptied afterwards, ``reset_sequences``, ``serialized_rollback`` (the install-time contents are restored after
the emptying), ``available_apps`` (accepted; see the docs for what it means here).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from ..markers import Declaration

MARKER = "django_db"
MARKER_HELP = (
    "django_db(transaction=False, reset_sequences=False, databases=None, serialized_rollback=False, "
    "available_apps=None): pytest-django's marker, served by pytest-multidb: the test may use the database "
    "aliases 'databases' (default: 'default'; '__all__': every alias)."
)
#: The marker's keywords (pytest-django's ``_django_db_signature``).
KEYWORDS = ("transaction", "reset_sequences", "databases", "serialized_rollback", "available_apps")


def will_load_pytest_django(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-django is (or will be) loaded in this run: registered, or installed and not blocked."""
    if pluginmanager.has_plugin("django"):
        return True
    return not pluginmanager.is_blocked("django") and importlib.util.find_spec("pytest_django") is not None


def _signature(item: pytest.Item, marker: pytest.Mark) -> dict[str, Any]:
    """The marker's arguments by keyword; a one-line usage error for anything pytest-django would refuse."""

    def refuse(mistake: str, fix: str) -> pytest.UsageError:
        return pytest.UsageError(f"multidb: {item.nodeid}: @pytest.mark.{MARKER}(...) {mistake}. Fix: {fix}.")

    if len(marker.args) > len(KEYWORDS):
        raise refuse(f"got {len(marker.args)} positional arguments", "pass its options by keyword")
    given = dict(zip(KEYWORDS, marker.args, strict=False))
    for key, value in marker.kwargs.items():
        if key not in KEYWORDS:
            raise refuse(f"has an unknown keyword {key!r}", f"use only {', '.join(KEYWORDS)}")
        given[key] = value
    databases = given.get("databases")
    if databases is not None and databases != "__all__" and (
        isinstance(databases, str) or not all(isinstance(alias, str) for alias in databases)
    ):
        raise refuse(f"got databases={databases!r}", "write databases=['default', 'other'] or databases='__all__'")
    for key in ("transaction", "reset_sequences", "serialized_rollback"):
        if not isinstance(given.get(key, False), bool):
            raise refuse(f"got {key}={given[key]!r}, which takes True or False", f"write {key}=True")
    return given


def django_db_declaration(item: pytest.Item, known: list[str]) -> Declaration | None:
    """The closest ``django_db`` marker of ``item`` as a declaration (``None`` without one)."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    given = _signature(item, marker)
    databases = given.get("databases")
    aliases = tuple(known) if databases == "__all__" else tuple(databases or ("default",))
    committing = aliases if given.get("transaction") or given.get("reset_sequences") else ()
    return Declaration(aliases, committing, bool(given.get("reset_sequences")), source=MARKER,
                       serialized_rollback=bool(given.get("serialized_rollback")))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    from ..run import MultiDB

    run = MultiDB.of(config)
    if run is not None:
        known = list(run.specs)
        run.declaration_sources.append(lambda item: django_db_declaration(item, known))
