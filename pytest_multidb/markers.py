"""The ``uses_db`` marker: what a test declares, read from its markers (function, class, module)."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

import pytest

from .messages import plugin as texts

MARKER = "uses_db"
MARKER_HELP = (
    "uses_db(*aliases, transaction=False, reset_sequences=False): the Django database aliases the test may "
    "use (default: 'default'). Each is rolled back after the test; transaction=True (or a list of aliases) "
    "commits for real on those aliases and empties the tables written afterwards."
)



def uses_db_signature(*aliases: str, transaction: bool | str | Sequence[str] = False,
                      reset_sequences: bool = False) -> tuple[tuple[str, ...], bool | str | Sequence[str], bool]:
    """The marker's signature: its arguments are bound by calling this (as pytest-django binds ``django_db``'s)."""
    return aliases, transaction, reset_sequences


#: The marker's keywords (from its signature).
KEYWORDS = tuple(name for name, parameter in inspect.signature(uses_db_signature).parameters.items()
                 if parameter.kind is inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)
class Declaration:
    """What a test asks for: through ``uses_db`` markers, pytest-django's ``django_db`` or a Django test class."""

    aliases: tuple[str, ...]
    committing: tuple[str, ...]
    reset_sequences: bool
    #: Where it was declared: ``uses_db``, ``django_db`` or ``<Class>.databases``.
    source: str = MARKER
    #: A Django test class: Django's class machinery isolates it; the plugin provisions and allows its aliases.
    django_class: bool = False
    #: Django's ``serialized_rollback``: the aliases' install-time contents are serialized to be restored.
    serialized_rollback: bool = False


def _aliases(value: object) -> TypeGuard[Sequence[str]]:
    """Whether ``value`` is a list or tuple of alias strings."""
    return isinstance(value, (list, tuple)) and all(isinstance(alias, str) for alias in value)


def _marker(aliases: Sequence[str]) -> str:
    """``@pytest.mark.uses_db('a', 'b')`` for ``aliases``."""
    return texts.MARKER_CALL.format(aliases=", ".join(map(repr, aliases)))


def _usage_error(item: pytest.Item, mistake: str, fix: str) -> pytest.UsageError:
    return pytest.UsageError(texts.MARKER_MISUSE.format(test=item.nodeid, mistake=mistake, fix=fix))


def _keyword_error(item: pytest.Item, key: str, value: object) -> pytest.UsageError:
    if key == "databases" and _aliases(value):  # pytest-django's spelling
        return _usage_error(item, texts.UNKNOWN_KEYWORD.format(key=key),
                            texts.DATABASES_KEYWORD_FIX.format(marker=_marker(value)))
    close = difflib.get_close_matches(key, KEYWORDS, n=1)
    if close:
        return _usage_error(item, texts.UNKNOWN_KEYWORD_MEANT.format(key=key, meant=close[0]),
                            texts.UNKNOWN_KEYWORD_MEANT_FIX.format(meant=close[0], value=value))
    return _usage_error(item, texts.UNKNOWN_KEYWORD.format(key=key), texts.UNKNOWN_KEYWORD_FIX)


def check_signature(item: pytest.Item, marker: pytest.Mark) -> None:
    """Raise a one-line UsageError unless ``marker`` is ``uses_db(*aliases, transaction=..., reset_sequences=...)``
    with the documented types (like pytest-django's ``_django_db_signature``)."""
    for arg in marker.args:
        if isinstance(arg, str):
            continue
        if _aliases(arg):
            raise _usage_error(item, texts.ALIAS_LIST.format(type_name=type(arg).__name__, value=arg),
                               texts.ALIAS_LIST_FIX.format(marker=_marker(arg)))
        raise _usage_error(item, texts.ALIAS_NOT_A_STRING.format(value=arg, type_name=type(arg).__name__),
                           texts.ALIAS_NOT_A_STRING_FIX)
    try:
        _aliases_given, transaction, reset = uses_db_signature(*marker.args, **marker.kwargs)
    except TypeError:  # a keyword the signature does not have: named, with the one meant
        key = next(key for key in marker.kwargs if key not in KEYWORDS)
        raise _keyword_error(item, key, marker.kwargs[key]) from None
    if not (isinstance(transaction, (bool, str)) or _aliases(transaction)):
        raise _usage_error(item, texts.BAD_TRANSACTION.format(value=transaction), texts.BAD_TRANSACTION_FIX)
    if not isinstance(reset, bool):
        raise _usage_error(item, texts.BAD_RESET_SEQUENCES.format(value=reset), texts.BAD_RESET_SEQUENCES_FIX)


def declaration(item: pytest.Item) -> Declaration | None:
    """Merge the test's ``uses_db`` markers (function, class, module): aliases add up, the closest option wins.

    A marker that does not fit the signature raises a one-line ``pytest.UsageError`` naming the test.
    """
    markers = list(item.iter_markers(MARKER))
    if not markers:
        return None
    for marker in markers:
        check_signature(item, marker)
    aliases = tuple(dict.fromkeys(a for m in reversed(markers) for a in (m.args or ("default",))))
    transaction = next((m.kwargs["transaction"] for m in markers if "transaction" in m.kwargs), False)
    reset = next((m.kwargs["reset_sequences"] for m in markers if "reset_sequences" in m.kwargs), False)
    if transaction is True:
        committing = aliases
    elif not transaction:
        committing = ()
    else:
        committing = (transaction,) if isinstance(transaction, str) else tuple(transaction)
    return Declaration(aliases, committing, reset)


def skipped_whatever_happens(item: pytest.Item) -> bool:
    """Whether ``item`` is skipped before anything of it runs: ``unittest.skip`` on its class or method (a
    ``skipIf`` / ``skipUnless`` decided at import, such as ``"replica" in connections``), ``@pytest.mark.skip``, a
    ``skipif`` whose condition is ``True``. Its declaration asks for nothing (pytest-django runs the rest of the
    suite when it names an alias the settings lack; a condition given as a string is not evaluated here)."""
    for owner in (getattr(item, "cls", None), getattr(item, "obj", None)):
        if getattr(owner, "__unittest_skip__", False):
            return True
    if item.get_closest_marker("skip") is not None:
        return True
    return any(condition is True for mark in item.iter_markers("skipif")
               for condition in (*mark.args, mark.kwargs.get("condition")))
