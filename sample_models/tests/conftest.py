import pytest

from sample_models.factories import ArtistFactory


@pytest.fixture
def artists(uses_db):
    """Three artists on alias 'a'. The fixture declares the alias, so tests using it need no marker."""
    uses_db("a")
    return ArtistFactory.create_batch(3)
