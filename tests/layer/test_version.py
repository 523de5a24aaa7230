"""One version number: ``pyproject.toml``'s, which ``pytest_multidb.__version__`` reads from the installed
metadata, released in CHANGELOG.md (the docs site shows it: ``tests/docs``)."""

import importlib.metadata
import re
from pathlib import Path

import pytest_multidb

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_metadata_has_the_version_of_the_package():
    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]
    assert re.fullmatch(r"\d+\.\d+\.\d+", declared)
    assert pytest_multidb.__version__ == importlib.metadata.version("pytest-multidb") == declared


def test_the_changelog_shows_it():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d\d-\d\d$", changelog, re.MULTILINE)
    assert releases[0] == pytest_multidb.__version__
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{releases[0]}]")
    # The docs site shows it too: tests/docs/test_site.py reads the built pages.
