"""The ``uses_db`` marker: what a test declares, read from its markers (function, class, module)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

MARKER = "uses_db"
MARKER_HELP = (
    "uses_db(*aliases, transaction=False, reset_sequences=False): the Django database aliases the test may "
    "use (default: 'default'). Each is rolled back after the test; transaction=True (or a list of aliases) "
    "commits for real on those aliases and empties the tables written afterwards."
)


@dataclass(frozen=True)
class Declaration:
    """What a test's ``uses_db`` markers ask for."""

    aliases: tuple[str, ...]
    committing: tuple[str, ...]
    reset_sequences: bool


def declaration(item: pytest.Item) -> Declaration | None:
    """Merge the test's ``uses_db`` markers (function, class, module): aliases add up, the closest option wins."""
    markers = list(item.iter_markers(MARKER))
    if not markers:
        return None
    aliases = tuple(dict.fromkeys(a for m in reversed(markers) for a in (m.args or ("default",))))
    transaction = next((m.kwargs["transaction"] for m in markers if "transaction" in m.kwargs), False)
    reset = next((m.kwargs["reset_sequences"] for m in markers if "reset_sequences" in m.kwargs), False)
    if transaction is True:
        committing = aliases
    elif not transaction:
        committing = ()
    else:
        committing = (transaction,) if isinstance(transaction, str) else tuple(transaction)
    return Declaration(aliases, committing, bool(reset))
