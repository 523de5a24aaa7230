"""Sphinx configuration of the pytest-multidb documentation (``python -m sphinx -W -n -b html docs docs/_build/html``).

Markdown pages are read by MyST; the API reference is reST with autodoc; the diagrams are Graphviz sources in
``diagrams/``, rendered to SVG at build time (needs the ``dot`` program: Debian package ``graphviz``).
"""

import re
import sys
from pathlib import Path

import django
from django.conf import settings

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]  # the checkout's package, not an installed copy

# autodoc imports the package as a project would: with Django set up (no database is ever opened).
if not settings.configured:
    settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "pytest_multidb"],
                       DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
    django.setup()

project = "pytest-multidb"
author = "the pytest-multidb authors"
copyright = "2026, " + author
#: The package's version, as pyproject.toml declares it.
release = version = re.search(r'^version = "([^"]+)"', (HERE.parent / "pyproject.toml").read_text(), re.M)[1]

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.graphviz",
    "multidb_fixtures",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "diagrams", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["deflist", "substitution"]
myst_substitutions = {"release": release}
myst_heading_anchors = 3  # [text](page.md#a-heading) links are checked like any other reference

autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}

# -n: every reference must resolve. Types from the libraries we build on have no inventory offline.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:(class|obj|exc|data)", r"(django|pytest|_pytest|typing|collections|contextlib|types|threading)\..*"),
    # Internal types in public signatures: atomic()'s decorator type variable and the object it returns.
    (r"py:class", r"pytest_multidb\.transaction\.(F|MultiAtomic)"),
    # Annotations naming Django types (and one internal class) imported only for type checking.
    (r"py:class", r"(BaseDatabaseWrapper|Model|Branch)"),
]

graphviz_output_format = "svg"
smartquotes = False  # messages and code stay copy-pasteable: straight quotes

html_theme = "alabaster"
html_title = f"pytest-multidb {release}"
html_static_path: list[str] = []
