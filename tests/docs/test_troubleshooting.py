"""Every message template of ``pytest_multidb.messages`` is on the troubleshooting page (docs/troubleshooting.md),
and no message is written anywhere else in the package."""

import sys
from pathlib import Path

import pytest

from .messages import Template, inline_messages, missing, normalise, template_fragments, templates

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"


def test_the_messages_package_has_templates_to_check() -> None:
    """The templates are read from every module of the package (else the next test proves nothing)."""
    found = templates()
    modules = {template.path.split("/")[-1] for template in found}
    assert {"__init__.py", "settings.py", "layer.py", "isolation.py", "plugin.py"} <= modules
    names = {template.where for template in found}
    assert {"NO_SETTINGS", "UNKNOWN_ALIAS", "CONFIGURATION_ERROR", "WRITE_REFUSED", "STEP_FAILED"} <= names
    assert sum(bool(template.fragments) for template in found) > 100


def test_every_message_template_is_on_the_troubleshooting_page() -> None:
    undocumented = missing(PAGE.read_text(), templates())
    assert not undocumented, (
        f"{len(undocumented)} message(s) of pytest_multidb.messages are not on {PAGE.relative_to(ROOT)} (each "
        "fragment between fields must appear there; add the message with its cause and fix):\n"
        + "\n".join(map(str, undocumented))
    )


def test_no_message_is_written_outside_the_messages_package() -> None:
    inline = inline_messages(ROOT / "pytest_multidb")
    assert not inline, (
        f"{len(inline)} message(s) are written in the code: make each an upper-case template in a module of "
        "pytest_multidb/messages/ and format it where it is raised or reported:\n" + "\n".join(map(str, inline))
    )


def test_a_new_inline_message_is_caught(tmp_path: Path) -> None:
    """A message someone writes in the code later, raised, returned or reported, is found; formatting a template
    of the messages package is not, nor are words and the messages package's own texts."""
    package = tmp_path / "pkg"
    (package / "messages").mkdir(parents=True)
    (package / "messages" / "part.py").write_text("NEW = 'multidb: a template. Fix: {fix}.'\n")
    (package / "new.py").write_text(
        "import pytest\n"
        "from .messages import part as texts\n"
        "HINT = 'a hint constant nobody documented'\n"
        "def f(alias):\n"
        "    raise pytest.UsageError(f'multidb: alias {alias!r} has a brand new problem. Fix: do the new thing.')\n"
        "def g(alias, errors):\n"
        "    errors.append(f'{alias}: something else broke')\n"
        "    return CheckWarning('x', hint=HINT)\n"
        "def message(alias):\n"
        "    return f'alias {alias} is built by a helper'\n"
        "def _changed(self, alias):\n"
        "    self._report(f'multidb: {alias} is reported as it happens')\n"
        "    return 'one of two texts' if alias else 'or the other'\n"
        "def formatted(alias, errors):\n"
        "    errors.append(texts.NEW.format(fix=alias))\n"
        "    raise InDoubtError('commit', alias)\n"
    )
    found = inline_messages(package)
    assert [t.fragments for t in found] == [
        ("multidb: alias", "has a brand new problem. Fix: do the new thing."),
        (": something else broke",),
        ("a hint constant nobody documented",),
        ("alias", "is built by a helper"),
        ("multidb:", "is reported as it happens"),
        ("one of two texts",),
        ("or the other",),
    ]
    assert {t.path for t in found} == {"pkg/new.py"}


def test_a_new_template_missing_from_the_page_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A template added to a module of the messages package fails until the page has each of its fragments."""
    package = tmp_path / "newmessages"
    package.mkdir()
    (package / "__init__.py").write_text("def helper(): return 'not a constant'\nPLAIN = 'multidb: a plain text.'\n")
    (package / "part.py").write_text(
        "DOCUMENTED = 'multidb: alias {alias!r} has a brand new problem. Fix: do the new thing.'\n"
        "UNDOCUMENTED = 'thread {name!r} waited {timeout:.0f} s for {{the}} lock'\n"
        "_PRIVATE = 'not a message'\n"
        "lower = 'not a message either'\n"
        "NUMBER = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "newmessages", raising=False)
    found = templates("newmessages")
    assert [(t.path, t.where, t.fragments) for t in found] == [
        ("newmessages/__init__.py", "PLAIN", ("multidb: a plain text.",)),
        ("newmessages/part.py", "DOCUMENTED", ("multidb: alias", "has a brand new problem. Fix: do the new thing.")),
        ("newmessages/part.py", "UNDOCUMENTED", ("thread", "waited", "s for {the} lock")),
    ]
    page = "multidb: a plain text. multidb: alias 'a' has a brand new problem. Fix: do the new thing. thread 'x' waited"
    assert [t.where for t in missing(page, found)] == ["UNDOCUMENTED"]


def test_template_fragments_are_the_text_between_fields() -> None:
    assert template_fragments("alias {alias!r} is read-only") == ("alias", "is read-only")
    assert template_fragments("write DATABASES = {{'default': {{...}}}} ({n:.0f} s) {a!r}") == (
        "write DATABASES = {'default': {...}} (",)  # "s)" carries no text of its own
    assert template_fragments("{a}: {b}") == ()  # ": " carries no text of its own


def test_fragments_match_across_wrapped_lines() -> None:
    template = Template("x.py", "X", ("cannot create test database", "Fix: start the server"))
    assert not missing("cannot create\n  test database 'x'. Fix:   start the server", [template])
    assert normalise(" a \n b ") == "a b"
