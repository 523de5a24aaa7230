import pytest

from sample_models.artists.models import Artist
from sample_models.factories import ExhibitFactory, WidgetFactory
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("a", "b")
@pytest.mark.parametrize("n", range(2))  # the second, whichever it is, checks that the first's swap was undone
def test_swap_moves_a_model_and_is_undone(n, swap_db):
    assert Widget.objects.db == "b"
    swap_db(Widget, "a")  # Widget's table is created on 'a' for this test only
    widget = WidgetFactory()
    assert widget._state.db == "a"
    assert Widget.objects.db == "a"
    assert Widget.objects.using("a").count() == 1
    assert Widget.objects.using("b").count() == 0


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
def test_per_call_database(swap_db):
    swap_db(Widget, "a")  # Widget lives on 'a' now: 'b' is not its alias
    widget = WidgetFactory(_using="b")
    assert widget._state.db == "b"
    assert (Widget.objects.using("b").count(), Widget.objects.count()) == (1, 0)
    assert WidgetFactory()._state.db == "a"  # the next call follows the model again


@pytest.mark.uses_db("a", "b")
def test_instance_loaded_elsewhere_saves_to_its_models_alias(swap_db):
    """docs/layer.md: a routed model is routed even when an instance was loaded with .using("x")."""
    swap_db(Artist, "b")  # Artist's table on 'b' too, for this test
    Artist.objects.create(name="on b")
    Artist.objects.db = None  # back on its own alias, 'a'
    assert Artist.objects.db == "a"
    loaded = Artist.objects.using("b").get()
    assert loaded._state.db == "b"
    loaded.name = "saved"
    loaded.save()
    assert loaded._state.db == "a"
    assert list(Artist.objects.using("a").values_list("pk", "name")) == [(loaded.pk, "saved")]
    assert list(Artist.objects.using("b").values_list("name", flat=True)) == ["on b"]


@pytest.mark.uses_db("a", "b")
def test_query_counts(db_queries):
    Artist.objects.create(name="x")
    list(Widget.objects.all())
    assert db_queries["a"].count == 1
    assert db_queries["b"].count == 1
