"""The order tests run in: Django's test classes as Django's runner meets and orders them, pytest's tests as
pytest-django orders them (``ordered``)."""

from __future__ import annotations

import sys
import unittest
from collections.abc import Sequence

import pytest

from .django_db import DjangoDbArgs, closest_arguments


def ordered(items: list[pytest.Item]) -> None:
    """Sort ``items`` in place: by ``django_order``'s groups, and within a group the test classes (in the places
    they hold there) as unittest's discovery meets them (``discovery_positions``); a class's tests stay in
    pytest's order (by name, as unittest's loader sorts them)."""
    groups = {id(item): django_order(item) for item in items}
    items.sort(key=lambda item: groups[id(item)])
    positions = discovery_positions(items)
    slots = [n for n, item in enumerate(items) if getattr(item, "cls", None) in positions]
    classes = sorted((items[n] for n in slots), key=lambda item: (groups[id(item)], positions[item.cls]))
    for n, item in zip(slots, classes, strict=True):
        items[n] = item


def discovery_positions(items: Sequence[pytest.Item]) -> dict[type, int]:
    """Where unittest's discovery (``DiscoverRunner``'s) first meets each ``unittest`` class of ``items``: module by
    module in pytest's order, each package's ``__init__`` before its first module (a package that imports test
    classes, ``from .test_admin import *``, has them run there), and a module's classes by name (unittest's
    ``loadTestsFromModule`` reads ``dir(module)``), not as they are defined. Django's ``reorder_tests`` keeps a
    class where its first test was met."""
    wanted = {item.cls for item in items if isinstance(getattr(item, "cls", None), type)
              and issubclass(item.cls, unittest.TestCase)}
    positions: dict[type, int] = {}
    visited: set[str] = set()
    for item in items:
        if getattr(item, "cls", None) not in wanted:
            continue
        module = item.module
        parts = module.__name__.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name in visited:
                continue
            visited.add(name)
            unit = module if depth == len(parts) else sys.modules.get(name)
            for attribute in dir(unit) if unit is not None else ():
                found = getattr(unit, attribute, None)
                if isinstance(found, type) and found in wanted and found not in positions:
                    positions[found] = len(positions)
    return positions


def django_order(item: pytest.Item) -> int:
    """Where ``item`` runs. Test classes as Django's runner orders them (``DiscoverRunner.reorder_by``):
    ``TestCase`` classes (0), then the other ``SimpleTestCase`` classes, ``TransactionTestCase`` among them (1),
    then every other ``unittest`` class (2). pytest's tests as pytest-django orders them: the ones using a database
    (0; ``uses_db`` ones too), then the committing ones (1), then the ones using none (2: what such a test leaves
    behind, a model class it defines, a module's state, is met by no test with a database). Each group in
    collection order (its test classes as discovery meets them: ``ordered``): a flush cannot empty what a
    ``TestCase`` of a later file expects (content types, data migrations' rows), and what a ``SimpleTestCase``
    leaves behind (a class attribute cached by a test's settings) is met by no ``TestCase``, as under Django's
    runner."""
    from django.test import SimpleTestCase, TestCase

    cls = getattr(item, "cls", None)
    if isinstance(cls, type) and issubclass(cls, unittest.TestCase):
        return 0 if issubclass(cls, TestCase) else 1 if issubclass(cls, SimpleTestCase) else 2
    try:
        given = closest_arguments(item)
    except pytest.UsageError:  # reported by the declarations, with the others
        given = DjangoDbArgs()
    names = getattr(item, "fixturenames", ())
    if (given is not None and (given.transaction or given.reset_sequences)) or "transactional_db" in names:
        return 1
    # pytest-django's test of "uses a database": its marker or the ``db`` fixture (``live_server`` alone, or
    # ``django_db_reset_sequences`` without the marker, is not one there: such a test runs with the last).
    uses = given is not None or "db" in names or item.get_closest_marker("uses_db") is not None
    return 0 if uses else 2
