import pytest

from pytest_multidb import atomic
from sample_models.artists.models import Artist
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("a", "b", transaction=True)
def test_atomic_across_connections_rolls_back_all():
    with pytest.raises(RuntimeError), atomic(connections=["a", "b"]):
        Artist.objects.create(name="x")
        Widget.objects.create(code="x", weight=1)
        raise RuntimeError("roll back both")
    assert (Artist.objects.count(), Widget.objects.count()) == (0, 0)


@pytest.mark.uses_db("a", "b", transaction=True)
def test_atomic_commits_all():
    with atomic(connections=["a", "b"]):
        Artist.objects.create(name="x")
        Widget.objects.create(code="x", weight=1)
    assert (Artist.objects.count(), Widget.objects.count()) == (1, 1)
