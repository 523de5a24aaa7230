"""The documentation site builds without a warning and holds every public name, every fixture and both diagrams.

The site is built once per module, exactly as the README says (``python -m sphinx -W --keep-going -n -b html``),
into a temp dir, and the built HTML is read: what a reader would get.
"""

from __future__ import annotations

import html
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_multidb

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DIAGRAMS = {"data-path.dot": "design.html", "isolation-modes.dot": "plugin.html"}


def clean_env() -> dict[str, str]:
    """The environment without a Django settings module: the docs configure Django themselves."""
    return {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True, text=True, env=clean_env(), timeout=300,
    )
    assert done.returncode == 0, f"the docs build failed:\n{done.stdout}\n{done.stderr}"
    assert "WARNING" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    return out


def text_of(page: Path) -> str:
    """The page's visible text, whitespace collapsed (tags dropped: ``(<code>x</code>)`` reads ``(x)``)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())


def first_line(doc: str | None) -> str:
    """The docstring's first line as rendered: reST literals (````x````) lose their backticks."""
    line = inspect.cleandoc(doc or "").splitlines()[0] if doc else ""
    return " ".join(line.replace("``", "").split())


def registered_fixtures(tmp_path: Path) -> dict[str, list[str]]:
    """``{fixture: docstring lines}`` of every fixture pytest's fixture manager has from pytest-multidb's modules
    (``pytest --fixtures -v`` with the plugin, pytest-django's vocabulary included)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "multidb", "-p", "no:django", "-p", "no:randomly",
         "-p", "no:cacheprovider", "--fixtures", "-v"],
        cwd=tmp_path, capture_output=True, text=True, env=clean_env(), timeout=120,
    )
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in done.stdout.splitlines():
        entry = re.match(r"^(\w+)(?: \[\w+ scope\])? -- (\S+):\d+$", line)
        if entry:
            current = found.setdefault(entry[1], []) if "pytest_multidb" in entry[2] else None
        elif current is not None and line.startswith("    ") and line.strip():
            current.append(line.strip())
        elif not line.startswith(" "):
            current = None
    assert found, done.stdout + done.stderr
    return found


def test_every_public_name_is_rendered_with_its_docstring(site: Path) -> None:
    page = (site / "reference.html").read_text()
    text = text_of(site / "reference.html")
    for name in pytest_multidb.__all__:
        assert f'id="pytest_multidb.{name}"' in page, f"pytest_multidb.{name} is not in the reference"
        obj = getattr(pytest_multidb, name)
        doc = type(obj).__doc__ if name == "connections" else obj.__doc__
        assert doc, f"pytest_multidb.{name} has no docstring"
        assert first_line(doc) in text, f"the docstring of pytest_multidb.{name} is not rendered"


def test_every_fixture_has_a_docstring_and_is_on_the_site(site: Path, tmp_path: Path) -> None:
    fixtures = registered_fixtures(tmp_path)
    assert {"uses_db", "swap_db", "db_queries", "db", "live_server"} <= set(fixtures)
    undocumented = [name for name, doc in fixtures.items() if not doc or doc == ["no docstring available"]]
    assert not undocumented, f"fixtures without a docstring: {undocumented}"
    page = (site / "reference.html").read_text()
    text = text_of(site / "reference.html")
    missing = [name for name in fixtures if f'id="fixture-{name}"' not in page]
    assert not missing, f"fixtures missing from the reference: {missing}"
    for name in fixtures:
        assert " ".join(fixtures[name][0].replace("``", "").split()) in text, f"{name}'s docstring is not rendered"


@pytest.mark.parametrize("source", sorted(DIAGRAMS))
def test_the_diagrams_are_built_from_their_sources(site: Path, source: str) -> None:
    dot = (DOCS / "diagrams" / source).read_text()
    assert dot.lstrip().startswith("//") and "digraph" in dot
    page = (site / DIAGRAMS[source]).read_text()
    images = re.findall(r'(?:data|src)="(_images/graphviz-[0-9a-f]+\.svg)"', page)
    assert images, f"{DIAGRAMS[source]} shows no diagram"
    svg = html.unescape((site / images[0]).read_text())
    labels = re.findall(r'label="([^"\\]+)', dot)  # each label's first line is in the SVG as text
    missing = [label for label in labels if label.split("\\n")[0] not in svg]
    assert labels and not missing, f"{images[0]} lacks {missing}"


def test_internal_links_resolve(site: Path) -> None:
    """-n checks Sphinx references; this checks the plain links between the built pages too."""
    for page in site.glob("*.html"):
        for target in re.findall(r'href="([^"#:]+\.html)(?:#([^"]*))?"', page.read_text()):
            path, anchor = target
            built = site / path
            assert built.exists(), f"{page.name} links to a missing page {path}"
            if anchor:
                assert f'id="{anchor}"' in built.read_text(), f"{page.name} links to a missing anchor {path}#{anchor}"


def test_the_site_shows_the_packages_version(site: Path) -> None:
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    assert f"documentation of version {version}." in text_of(site / "index.html")
    assert f"pytest-multidb {version}" in (site / "reference.html").read_text()  # every page's title
