import pytest

from sample_models.artists.models import Artist
from sample_models.factories import ExhibitFactory, WidgetFactory
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("a", "b")
def test_swap_moves_a_model(swap_db):
    swap_db(Widget, "a")  # Widget's table is created on 'a' for this test only
    widget = WidgetFactory()
    assert widget._state.db == "a"
    assert Widget.objects.db == "a"
    assert Widget.objects.using("a").count() == 1


@pytest.mark.uses_db("a", "b")
def test_swap_was_undone():
    assert Widget.objects.db == "b"


@pytest.mark.uses_db("a", "b")
def test_use_db_is_scoped(use_db):
    with use_db(Artist, "b") as alias:
        assert Artist.objects.db == alias == "b"
    assert Artist.objects.db == "a"


@pytest.mark.uses_db("a", "b")
def test_subfactories_follow_their_models():
    exhibit = ExhibitFactory()
    assert (exhibit._state.db, exhibit.widget._state.db, exhibit.artist._state.db) == ("b", "b", "a")


@pytest.mark.uses_db("a", "b")
def test_per_call_database():
    WidgetFactory(_using="b")
    assert Widget.objects.count() == 1


@pytest.mark.uses_db("a", "b")
def test_query_counts(db_queries):
    Artist.objects.create(name="x")
    list(Widget.objects.all())
    assert db_queries["a"].count == 1
    assert db_queries["b"].count == 1
