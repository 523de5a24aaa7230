"""``pytest_multidb.markers`` in this process (no inner pytest run, no database): how ``uses_db`` markers on a
function, its class and its module add up to one ``Declaration``, and the one-line error for each marker that does
not fit the signature."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_multidb.markers import Declaration, declaration

NODEID = "test_it.py::TestIt::test_it"


@dataclass(frozen=True)
class Mark:
    """A marker as ``declaration`` reads it (``pytest.Mark``'s fields): name, arguments and keywords."""

    name: str
    args: tuple
    kwargs: dict


def uses_db(*args: object, **kwargs: object) -> Mark:
    return Mark("uses_db", args, kwargs)


class Item:
    """What ``declaration`` reads of a pytest item: its node id and its markers, closest (the function's) first."""

    nodeid = NODEID

    def __init__(self, *marks: Mark) -> None:
        self.marks = marks

    def iter_markers(self, name: str):
        return (mark for mark in self.marks if mark.name == name)


def refused(*marks: Mark) -> str:
    """The message of the UsageError that ``declaration`` raises for an item with these markers."""
    with pytest.raises(pytest.UsageError) as raised:
        declaration(Item(*marks))
    return str(raised.value)


# -- binding -----------------------------------------------------------------------------------------------------


def test_no_marker_is_no_declaration():
    assert declaration(Item()) is None
    assert declaration(Item(Mark("skip", (), {}), Mark("django_db", (), {}))) is None


def test_a_bare_marker_declares_default_rolled_back():
    assert declaration(Item(uses_db())) == Declaration(("default",), (), False)


def test_aliases_add_up_from_the_module_inwards_without_repeats():
    found = declaration(Item(uses_db("c", "a"), uses_db("b"), uses_db("a", "default")))  # function, class, module
    assert found.aliases == ("a", "default", "b", "c")
    assert found.committing == ()
    assert found.source == "uses_db"
    assert not found.django_class and not found.serialized_rollback


def test_the_closest_marker_that_sets_an_option_wins():
    function, cls, module = (uses_db("a"), uses_db("b", transaction=["b"], reset_sequences=True),
                             uses_db("c", transaction=True, reset_sequences=False))
    assert declaration(Item(function, cls, module)) == Declaration(("c", "b", "a"), ("b",), True)
    assert declaration(Item(uses_db("a", transaction=False), module)) == Declaration(("c", "a"), (), False)


@pytest.mark.parametrize(("transaction", "committing"), [
    (True, ("a", "b")), (False, ()), ("b", ("b",)), (["b"], ("b",)), (("a", "b"), ("a", "b")), ([], ()),
])
def test_transaction_names_the_committing_aliases(transaction, committing):
    assert declaration(Item(uses_db("a", "b", transaction=transaction))).committing == committing


# -- refused, in one line naming the test ------------------------------------------------------------------------


def test_a_list_of_aliases_as_one_argument():
    assert refused(uses_db(["a", "b"])) == (
        f"multidb: {NODEID}: @pytest.mark.uses_db(...) got the list ['a', 'b'] as an alias. "
        "Fix: pass each alias as its own argument: @pytest.mark.uses_db('a', 'b').")
    assert "got the tuple ('a',) as an alias" in refused(uses_db(("a",)))


def test_an_alias_that_is_not_a_string():
    assert refused(uses_db("a", 3)) == (
        f"multidb: {NODEID}: @pytest.mark.uses_db(...) got 3 (int) as an alias. "
        "Fix: name each alias as a string, e.g. @pytest.mark.uses_db('default').")


def test_pytest_djangos_databases_keyword():
    assert refused(uses_db(databases=["a", "b"])) == (
        f"multidb: {NODEID}: @pytest.mark.uses_db(...) has an unknown keyword 'databases'. "
        "Fix: pass the aliases as arguments: @pytest.mark.uses_db('a', 'b').")


def test_a_misspelt_keyword_is_named_with_its_near_miss():
    assert refused(uses_db("a", transactions=True)) == (
        f"multidb: {NODEID}: @pytest.mark.uses_db(...) has an unknown keyword 'transactions' "
        "(did you mean 'transaction'?). Fix: write transaction=True.")
    assert "(did you mean 'reset_sequences'?). Fix: write reset_sequences=1." in refused(uses_db(reset_sequence=1))


def test_an_unknown_keyword():
    assert refused(uses_db("a", flush=True)) == (
        f"multidb: {NODEID}: @pytest.mark.uses_db(...) has an unknown keyword 'flush'. "
        "Fix: use only aliases and the keywords transaction and reset_sequences.")


@pytest.mark.parametrize("value", [1, None, {"a": True}, ["a", 2]])
def test_transaction_of_the_wrong_type(value):
    assert refused(uses_db("a", transaction=value)) == (
        f"multidb: {NODEID}: @pytest.mark.uses_db(...) got transaction={value!r}, which takes True, False, an alias "
        "or a list of aliases. Fix: write transaction=True (every declared alias commits) or transaction=['a'] "
        "(only those).")


def test_reset_sequences_of_the_wrong_type():
    assert refused(uses_db("a", reset_sequences="yes")) == (
        f"multidb: {NODEID}: @pytest.mark.uses_db(...) got reset_sequences='yes', which takes True or False. "
        "Fix: write reset_sequences=True.")


def test_every_marker_is_checked_not_only_the_closest():
    assert "got 3 (int) as an alias" in refused(uses_db("a"), uses_db(3))
