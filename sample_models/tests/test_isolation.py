"""Every test starts with empty tables on every alias it uses, whatever ran before it."""

import pytest

from sample_models.artists.models import Artist
from sample_models.cycles.models import Category
from sample_models.widgets.models import Widget


@pytest.mark.uses_db("a", "b", "c")
@pytest.mark.parametrize("n", range(3))
def test_rolled_back(n):
    assert (Artist.objects.count(), Widget.objects.count(), Category.objects.count()) == (0, 0, 0)
    Artist.objects.create(name=f"artist {n}")
    Widget.objects.create(code=f"w{n}", weight=n)
    Category.objects.create(name=f"c{n}")


@pytest.mark.uses_db("a", "b", "c", transaction=True, reset_sequences=True)
@pytest.mark.parametrize("n", range(3))
def test_committed_then_emptied(n):
    assert (Artist.objects.count(), Widget.objects.count(), Category.objects.count()) == (0, 0, 0)
    assert Artist.objects.create(name=f"artist {n}").pk == 1
    Widget.objects.create(code=f"w{n}", weight=n)
    Category.objects.create(name=f"c{n}")


@pytest.mark.uses_db("a", "b", transaction=["b"])
@pytest.mark.parametrize("n", range(2))  # the second, whichever it is, starts empty after the first
def test_mixed_modes(n):
    """'a' is rolled back, 'b' commits for real (and is emptied afterwards)."""
    assert (Artist.objects.count(), Widget.objects.count()) == (0, 0)
    Artist.objects.create(name="rolled back")
    Widget.objects.create(code="kept", weight=1)
    from django.db import connections

    other = connections.create_connection("b")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT code FROM widgets_widget")
            assert cursor.fetchall() == [("kept",)]
    finally:
        other.close()


def test_fixture_declares_alias(artists):
    assert Artist.objects.count() == 3


@pytest.mark.uses_db("default", transaction=True)
@pytest.mark.parametrize("n", range(2))
def test_committing_keeps_migration_data(n):
    """Rows that migrations put there (content types, permissions) survive committing tests."""
    from django.contrib.auth.models import Permission, User
    from django.contrib.contenttypes.models import ContentType

    assert User.objects.count() == 0
    assert ContentType.objects.filter(app_label="artists").exists()
    assert Permission.objects.filter(codename="add_artist").exists()  # reloaded after the other one, if it ran
    User.objects.create(username=f"u{n}")
    Permission.objects.filter(codename="add_artist").delete()  # changed: reloaded afterwards
