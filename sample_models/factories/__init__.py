"""factory_boy factories for the sample models (used by the docs and tests)."""

import factory

from pytest_multidb.factories import ModelFactory
from sample_models.artists.models import Artist
from sample_models.widgets.models import Exhibit, Widget


class ArtistFactory(ModelFactory):
    class Meta:
        model = Artist

    name = factory.Sequence(lambda n: f"artist {n}")


class WidgetFactory(ModelFactory):
    class Meta:
        model = Widget

    code = factory.Sequence(lambda n: f"w{n}")
    weight = 1


class ExhibitFactory(ModelFactory):
    class Meta:
        model = Exhibit

    widget = factory.SubFactory(WidgetFactory)
    artist = factory.SubFactory(ArtistFactory)
    title = "show"
