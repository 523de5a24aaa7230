"""pytest-django's ``django_db`` marker and database fixtures read into a declaration, as ``markers.py`` reads
``uses_db``.

The marker's arguments are bound by a signature, as pytest-django's ``validate_django_db`` binds them:
``databases`` (``None``: ``default``; ``"__all__"``: every alias), ``transaction=True``: every declared alias
commits and is emptied afterwards (then ``post_migrate`` is sent, as Django's flush sends it), ``reset_sequences``,
``serialized_rollback`` (the install-time contents are restored after the emptying), ``available_apps`` (the app
registry is restricted for the test). A test that
requests one of ``DB_FIXTURES`` (directly or through ``admin_user``, ``admin_client``, ...) declares ``default``
the same way, at collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import pytest

from ..markers import Declaration
from ..messages import compat as texts

MARKER = "django_db"


@dataclass(frozen=True)
class DjangoDbArgs:
    """The ``django_db`` marker's arguments: its signature (pytest-django's ``_django_db_signature``)."""

    transaction: bool = False
    reset_sequences: bool = False
    databases: str | Sequence[str] | None = None
    serialized_rollback: bool = False
    available_apps: Sequence[str] | None = None


#: The marker's keywords, in the signature's order.
KEYWORDS = tuple(field.name for field in fields(DjangoDbArgs))
MARKER_HELP = (
    f"{MARKER}({', '.join(f'{field.name}={field.default!r}' for field in fields(DjangoDbArgs))}): pytest-django's "
    "marker, served by pytest-multidb: the test may use the database aliases 'databases' (default: 'default'; "
    "'__all__': every alias)."
)

#: The source of a declaration made by pytest-django's fixtures alone (no marker).
FIXTURES_SOURCE = "db fixtures"
#: Fixtures that give a test database access, as in pytest-django (``admin_user`` etc. depend on ``db``).
DB_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}
)
#: Fixtures that make the test commit for real (pytest-django: a ``TransactionTestCase``). ``live_server``
#: is not one of them here: the server's threads share the test's connections and see its rows.
COMMITTING_FIXTURES = frozenset({"transactional_db", "django_db_reset_sequences"})
#: The fixture that runs ``django_db_setup`` (and any override of it) before a django_db test's own.
SETUP_FIXTURE = "_multidb_django_db_setup"
#: The same, once per Django test class that uses a database, before the class is set up.
CLASS_SETUP_FIXTURE = "_multidb_django_class_db_setup"


def marker_arguments(item: pytest.Item | pytest.Node, marker: pytest.Mark) -> DjangoDbArgs:
    """The marker's arguments bound to its signature; a one-line usage error for anything pytest-django would
    refuse (a keyword given by position too takes the keyword's value)."""

    def refuse(mistake: str, fix: str) -> pytest.UsageError:
        return pytest.UsageError(texts.DJANGO_DB_MISUSE.format(test=item.nodeid, mistake=mistake, fix=fix))

    if len(marker.args) > len(KEYWORDS):
        raise refuse(texts.TOO_MANY_POSITIONAL.format(count=len(marker.args)), texts.TOO_MANY_POSITIONAL_FIX)
    given = {**dict(zip(KEYWORDS, marker.args, strict=False)), **marker.kwargs}
    try:
        bound = DjangoDbArgs(**given)
    except TypeError:
        key = next(key for key in marker.kwargs if key not in KEYWORDS)
        raise refuse(texts.UNKNOWN_KEYWORD.format(key=key),
                     texts.UNKNOWN_KEYWORD_FIX.format(keywords=", ".join(KEYWORDS))) from None
    databases = bound.databases
    if databases is not None and databases != "__all__" and (
        isinstance(databases, str) or not all(isinstance(alias, str) for alias in databases)
    ):
        raise refuse(texts.BAD_DATABASES.format(value=databases), texts.BAD_DATABASES_FIX)
    for key in ("transaction", "reset_sequences", "serialized_rollback"):
        if not isinstance(getattr(bound, key), bool):
            raise refuse(texts.NOT_A_BOOLEAN.format(key=key, value=getattr(bound, key)),
                         texts.NOT_A_BOOLEAN_FIX.format(key=key))
    return bound


def closest_arguments(node: pytest.Item | pytest.Node) -> DjangoDbArgs | None:
    """The arguments of ``node``'s closest ``django_db`` marker; ``None`` without one."""
    marker = node.get_closest_marker(MARKER)
    return marker_arguments(node, marker) if marker is not None else None


def django_db_declaration(item: pytest.Item, known: list[str]) -> Declaration | None:
    """The declaration of ``item`` in pytest-django's terms: its closest ``django_db`` marker and the database
    fixtures it requests (``transactional_db``, ``django_db_reset_sequences``, ``django_db_serialized_rollback``
    add what pytest-django adds). ``None`` without either."""
    given = closest_arguments(item)
    names = set(getattr(item, "fixturenames", ()))
    if given is None and not names & DB_FIXTURES:
        return None
    args = given or DjangoDbArgs()
    aliases = tuple(known) if args.databases == "__all__" else tuple(args.databases or ("default",))
    reset = bool(args.reset_sequences) or "django_db_reset_sequences" in names
    transaction = bool(args.transaction) or reset or bool(names & COMMITTING_FIXTURES)
    serialized = bool(args.serialized_rollback) or "django_db_serialized_rollback" in names
    return Declaration(aliases, aliases if transaction else (), reset,
                       source=MARKER if given is not None else FIXTURES_SOURCE, serialized_rollback=serialized)


def declared_here(found: Declaration | None) -> bool:
    """Whether ``found`` was declared in pytest-django's terms (its marker or its fixtures), not ``uses_db``'s."""
    return found is not None and found.source in (MARKER, FIXTURES_SOURCE)


def check_isolate_apps(item: pytest.Item) -> None:
    """At collection: ``django_isolate_apps`` takes app labels, ``django_isolated_apps`` needs the marker."""
    marker = item.get_closest_marker("django_isolate_apps")
    if marker is not None and (not marker.args or marker.kwargs
                               or not all(isinstance(label, str) for label in marker.args)):
        raise pytest.UsageError(texts.ISOLATE_APPS_WITHOUT_LABELS.format(test=item.nodeid))
    if marker is None and "django_isolated_apps" in getattr(item, "fixturenames", ()):
        raise pytest.UsageError(texts.ISOLATED_APPS_WITHOUT_MARKER.format(test=item.nodeid))
