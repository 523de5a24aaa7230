from pytest_multidb import connections
from sample_models.artists.models import Artist
from sample_models.cycles.models import Author, Book, Category
from sample_models.widgets.models import Widget


def test_each_model_lands_on_its_backend(clean_tables):
    assert connections["a"].vendor == "sqlite"
    assert Widget.objects.db.vendor == "postgresql"
    assert Category.objects.db.vendor == "mysql"
    Artist.objects.create(name="x")
    w = Widget.objects.create(code="w", weight=1)
    a = Author.objects.create(name="n")
    b = Book.objects.create(title="t", author=a)
    a.favourite_book = b
    a.save()
    assert Widget.objects.using("pg").get().pk == w.pk
    assert Book.objects.using("maria").count() == 1
