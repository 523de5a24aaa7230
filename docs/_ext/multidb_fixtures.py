"""A Sphinx extension: the ``fixture`` object type and a directive listing the fixtures a plugin module registers.

``.. multidb-fixtures:: pytest_multidb.plugin`` (``:private:`` for the ``_``-named ones) renders one
``.. fixture::`` entry (name, scope, autouse, the docstring) for every pytest fixture in the module's namespace,
so the reference cannot miss one; refer to one with ``:fixture:`swap_db``` (reST) or ``{fixture}`swap_db```
(MyST).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def fixture_marker(obj: object) -> Any:
    """pytest's marker of a fixture object (a decorated function before pytest 8.4, a definition object since)."""
    from _pytest.fixtures import getfixturemarker

    try:
        return getfixturemarker(obj)
    except Exception:  # an object whose attribute lookup fails is no fixture
        return None


def fixtures_of(module_name: str, private: bool = False) -> dict[str, Any]:
    """``{name: fixture object}`` for the public (or, with ``private``, the ``_``-named) fixtures in
    ``module_name``'s namespace, in name order."""
    module = importlib.import_module(module_name)
    found = {}
    for attribute, obj in vars(module).items():
        marker = fixture_marker(obj)
        if marker is None:
            continue
        name = marker.name or attribute
        if name.startswith("_") == private:
            found[name] = obj
    return dict(sorted(found.items()))


def fixture_function(obj: Any) -> Any:
    """The function behind a fixture object (for its docstring and signature)."""
    return getattr(obj, "_get_wrapped_function", lambda: getattr(obj, "__wrapped__", obj))()


class FixturesDirective(SphinxDirective):
    """``.. multidb-fixtures:: module``: every public fixture of ``module`` (with ``:private:``, its ``_``-named
    ones: the plugin's own autouse machinery)."""

    required_arguments = 1
    option_spec = {"private": directives.flag}

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        for name, obj in fixtures_of(self.arguments[0], private="private" in self.options).items():
            marker = fixture_marker(obj)
            function = fixture_function(obj)
            facts = [f"Scope ``{marker.scope}``"] + (["autouse"] if marker.autouse else [])
            params = [p for p in inspect.signature(function).parameters if p != "request" and not p.startswith("_")]
            if params:
                facts.append("requests " + ", ".join(f"``{p}``" for p in params))
            lines += [f".. fixture:: {name}", "", f"   {'; '.join(facts)}.", ""]
            lines += [f"   {line}" for line in inspect.cleandoc(function.__doc__ or "").splitlines()]
            lines.append("")
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.arguments[0]), self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_object_type("fixture", "fixture", objname="pytest fixture", indextemplate="pair: %s; fixture")
    app.add_directive("multidb-fixtures", FixturesDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
