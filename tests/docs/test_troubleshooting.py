"""Every message template in the package's source is on the troubleshooting page (docs/troubleshooting.md)."""

from pathlib import Path

from .messages import Template, missing, normalise, templates

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"


def test_the_source_has_messages_to_find() -> None:
    """The extraction finds the kinds of message the package raises (else the next test proves nothing)."""
    found = {template.path.split("/")[-1] for template in templates(ROOT / "pytest_multidb")}
    assert {"conf.py", "markers.py", "guard.py", "server.py", "process.py", "isolation.py", "transaction.py",
            "checks.py", "registry.py"} <= found


def test_every_message_template_is_on_the_troubleshooting_page() -> None:
    undocumented = missing(PAGE.read_text(), templates(ROOT / "pytest_multidb"))
    assert not undocumented, (
        f"{len(undocumented)} message(s) of the code are not on {PAGE.relative_to(ROOT)} (each fragment between "
        "placeholders must appear there; add the message with its cause and fix):\n"
        + "\n".join(map(str, undocumented))
    )


def test_a_new_message_is_caught(tmp_path: Path) -> None:
    """A message someone adds later, raised, returned or reported, fails until the page has it."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "new.py").write_text(
        "import pytest\n"
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
    )
    found = templates(package)
    assert [t.fragments for t in found] == [
        ("multidb: alias", "has a brand new problem. Fix: do the new thing."),
        (": something else broke",),
        ("a hint constant nobody documented",),
        ("alias", "is built by a helper"),
        ("multidb:", "is reported as it happens"),
        ("one of two texts",),
        ("or the other",),
    ]
    page = "multidb: alias 'a' has a brand new problem. Fix: do the new thing. a: something else broke"
    assert [t.fragments for t in missing(page, found)][:2] == [
        ("a hint constant nobody documented",), ("alias", "is built by a helper")]


def test_fragments_match_across_wrapped_lines() -> None:
    template = Template("x.py", 1, ("cannot create test database", "Fix: start the server"))
    assert not missing("cannot create\n  test database 'x'. Fix:   start the server", [template])
    assert normalise(" a \n b ") == "a b"
