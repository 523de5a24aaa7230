"""The message templates of ``pytest_multidb.messages``, and a guard against messages written anywhere else.

``templates()`` reads every upper-case ``str`` constant of every module of the ``pytest_multidb.messages``
package: a ``str.format`` template whose fragments are its text split at its ``{...}`` fields (``{{`` and ``}}``
are literal braces). ``"alias {alias!r} is read-only"`` becomes the fragments ``["alias", "is read-only"]``.

``inline_messages()`` finds the messages still written in the code, by reading its syntax tree. Messages are the
string arguments of

- a ``raise X(...)`` (any callable: exception classes, ``self._error(...)``, ``refuse(...)``),
- a call of anything named ``...Error``, ``...Exception``, ``...Warning``, ``fail``, ``exit`` or ``...report``
  (errors returned or collected before they are raised, pytest's ``fail`` / ``exit``, Django's check messages,
  the session's report lines),
- an ``.append(...)`` / ``.extend(...)`` on a list named like ``errors``, ``problems``, ``failed`` or ``removed``
  (the one-line reports of teardown and cleanup), and a teardown step's description (``defer(...)``, ``_step``),
- an exception's ``super().__init__(...)``,
- a ``return`` in a function named like ``message``, ``diagnose``, ``..._error`` or ``..._changed`` (messages
  built by a helper),

and every string literal that contains ``Fix:`` (the project's convention for a message that tells the fix,
wherever it is built). Names of module-level string constants (``hint=HINT_W001``) are resolved. A template
formatted there (``texts.UNKNOWN_ALIAS.format(...)``) is no text of the code, and a literal without a space
(``"commit"``, an id) is a word, not a message: neither is found.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import string
from dataclasses import dataclass
from pathlib import Path

#: Callees whose string arguments are messages (matched against the last part of the called name).
MESSAGE_CALLEE = re.compile(r"(Error|Exception|Warning|^fail|^exit|^Unreachable|report)$")
#: Lists whose appended strings are report lines.
REPORT_LIST = re.compile(r"error|problem|fail|removed", re.IGNORECASE)
#: Teardown steps: their descriptions appear in the report line of a step that failed.
STEP_CALLEE = frozenset({"defer", "_step"})
#: Functions whose returned strings are messages.
MESSAGE_FUNCTION = re.compile(r"message|diagnos|gone|error|problem|leftover|change|differen", re.IGNORECASE)
#: A fragment shorter than this (in letters and digits) carries no text of its own (": ", "; ", " (").
MIN_FRAGMENT = 3


#: The package that holds every message.
MESSAGES = "pytest_multidb.messages"


@dataclass(frozen=True)
class Template:
    """One message template: where it is (a file and a constant's name, or a line), and its constant text
    between the placeholders."""

    path: str
    where: str | int
    fragments: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.path}:{self.where}: {' … '.join(self.fragments)}"


def normalise(text: str) -> str:
    """Whitespace collapsed, so that wrapped lines and code blocks compare equal."""
    return " ".join(text.split())


def _callee_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


class _Collector(ast.NodeVisitor):
    def __init__(self, path: str, constants: dict[str, str]) -> None:
        self.path, self.constants = path, constants
        self.found: dict[int, list[str | None]] = {}  # id(node) -> pieces, kept in source order below
        self.nodes: list[tuple[int, list[str | None]]] = []

    # -- pieces: literal text, or None for a placeholder ------------------------------------------------
    def pieces(self, node: ast.expr) -> list[str | None] | None:
        """The text pieces of a string expression, or None when ``node`` is not text."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.JoinedStr):
            return [v.value if isinstance(v, ast.Constant) else None for v in node.values]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.pieces(node.left), self.pieces(node.right)
            if left is None and right is None:
                return None
            return [*(left or [None]), *(right or [None])]
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):  # one message per element
            return self.pieces(node.elt)
        if isinstance(node, ast.Name) and node.id in self.constants:
            return [self.constants[node.id]]
        return None

    def take(self, node: ast.expr) -> None:
        if isinstance(node, ast.IfExp):  # either text can be the message
            self.take(node.body)
            self.take(node.orelse)
            return
        pieces = self.pieces(node)
        if pieces is not None and not any(piece and any(c.isspace() for c in piece) for piece in pieces):
            return  # a word ("commit", an id, an alias list's separator), not a message
        if pieces is not None and id(node) not in self.found:
            self.found[id(node)] = pieces
            self.nodes.append((node.lineno, pieces))

    def take_arguments(self, call: ast.Call) -> None:
        for argument in [*call.args, *(keyword.value for keyword in call.keywords if keyword.arg != "id")]:
            self.take(argument)

    # -- where messages are -------------------------------------------------------------------------
    def visit_Raise(self, node: ast.Raise) -> None:
        if isinstance(node.exc, ast.Call):
            self.take_arguments(node.exc)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if MESSAGE_FUNCTION.search(node.name):
            for child in ast.walk(node):
                if isinstance(child, ast.Return) and child.value is not None:
                    self.take(child.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _callee_name(node.func)
        is_super = isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call) and (
            _callee_name(node.func.value.func) == "super"
        )
        reports = name in ("append", "extend") and isinstance(node.func, ast.Attribute) and bool(
            REPORT_LIST.search(_callee_name(node.func.value))
        )
        if (
            MESSAGE_CALLEE.search(name)
            or name in STEP_CALLEE
            or (is_super and name == "__init__")
            or reports
            or any(_callee_name(argument) in STEP_CALLEE for argument in node.args)
        ):
            self.take_arguments(node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "Fix:" in node.value:
            self.take(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        if any(isinstance(v, ast.Constant) and "Fix:" in v.value for v in node.values):
            self.take(node)
        for value in node.values:  # its own literal parts are part of it, not messages of their own
            if isinstance(value, ast.FormattedValue):
                self.visit(value)


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for statement in tree.body:
        value = statement.value if isinstance(statement, ast.Assign) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = value.value
    return constants


def _fragments(pieces: list[str | None]) -> tuple[str, ...]:
    text, fragments = "", []
    for piece in [*pieces, None]:
        if piece is not None:
            text += piece
            continue
        fragment = normalise(text)
        if sum(c.isalnum() for c in fragment) >= MIN_FRAGMENT:
            fragments.append(fragment)
        text = ""
    return tuple(fragments)


def template_fragments(text: str) -> tuple[str, ...]:
    """The fragments of a ``str.format`` template: its literal text between its fields (``{{`` is ``{``)."""
    pieces: list[str | None] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(text):
        pieces.append(literal)
        if field is not None:
            pieces.append(None)
    return _fragments(pieces)


def templates(package: str = MESSAGES) -> list[Template]:
    """Every upper-case ``str`` constant of every module of ``package`` (imported), in module and source order."""
    root = importlib.import_module(package)
    modules = [root, *(importlib.import_module(f"{package}.{info.name}")
                       for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda info: info.name))]
    top = Path(importlib.import_module(package.split(".")[0]).__file__).parent.parent
    found = []
    for module in modules:
        path = Path(module.__file__).relative_to(top).as_posix()
        for name, value in vars(module).items():
            if name.isupper() and not name.startswith("_") and isinstance(value, str):
                found.append(Template(path, name, template_fragments(value)))
    return found


def inline_messages(package: Path, exclude: tuple[str, ...] = ("messages",)) -> list[Template]:
    """Every message written in the ``.py`` files under ``package`` (its ``exclude`` subpackages left out), in
    file and line order."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] in exclude:
            continue
        tree = ast.parse(path.read_text(), str(path))
        collector = _Collector(str(path.relative_to(package.parent)), _module_constants(tree))
        collector.visit(tree)
        for line, pieces in sorted(collector.nodes, key=lambda item: item[0]):
            fragments = _fragments(pieces)
            if fragments:
                found.append(Template(collector.path, line, fragments))
    return found


def missing(page: str, found: list[Template]) -> list[Template]:
    """The templates with a fragment that the page's text does not contain."""
    text = normalise(page)
    return [template for template in found if any(fragment not in text for fragment in template.fragments)]
