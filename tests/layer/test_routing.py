"""Routing and ``Manager.db``: the seed shape, swaps, precedence, context-local swaps, proxies, migrate, relations."""

import asyncio
import threading

import pytest
from django.conf import settings
from django.db import connections as django_connections
from django.db import router
from django.test import override_settings
from django.test.utils import isolate_apps
from django.utils.connection import ConnectionDoesNotExist

from pytest_multidb import ConnectionInfo, connections, routing, use_db
from pytest_multidb.routing import ROUTER_PATH
from pytest_multidb.schema import SchemaBuilder
from sample_models.artists.models import Artist
from sample_models.cycles.models import Book
from sample_models.widgets.models import Exhibit, Widget


class SendTo:
    """A project's own router: every model to one alias, migrations only there."""

    def __init__(self, alias):
        self.alias = alias

    def db_for_read(self, model, **hints):
        return self.alias

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, **hints):
        return db == self.alias


def other_databases(**models):
    """The layer's OTHER_DATABASES with the given aliases' MODELS replaced."""
    return {alias: {**entry, "MODELS": models.get(alias, entry["MODELS"])}
            for alias, entry in settings.OTHER_DATABASES.items()}


def rows(alias, table):
    with django_connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT code, weight FROM {table} ORDER BY code")
        return cursor.fetchall()


@pytest.fixture
def fresh_selectors():
    routing.reset_selector_cache()
    yield
    routing.reset_selector_cache()


@pytest.fixture
def widget_table_on_a(clean_tables):
    """Widget's table on alias ``a`` too (it normally lives on ``pg`` only); the swap is undone afterwards."""
    builder = SchemaBuilder("a", models=[Widget])
    builder.install()
    yield
    Widget.objects.db = None
    builder.drop()


# -- the seed shape ----------------------------------------------------------------------------------------------
def test_manager_db_is_the_connection_info_of_the_alias():
    info = Artist.objects.db
    assert isinstance(info, ConnectionInfo)
    assert info == "a"
    assert info.connection is django_connections["a"]
    assert Artist.objects.db.connection.vendor == "sqlite"
    assert Widget.objects.db.vendor == "postgresql"
    assert Artist.objects.db_manager("pg").db == "pg"


@pytest.mark.parametrize("target", [connections["a"], "a"], ids=["ConnectionInfo", "str"])
def test_assigning_manager_db_moves_reads_writes_and_save(widget_table_on_a, target):
    Widget.objects.create(code="pg-only", weight=0)
    Widget.objects.db = target
    assert Widget.objects.db == "a"
    assert isinstance(Widget.objects.db, ConnectionInfo)

    created = Widget.objects.create(code="c", weight=1)
    saved = Widget(code="s", weight=2)
    saved.save()
    saved.weight = 3
    saved.save()
    assert created._state.db == saved._state.db == "a"
    assert rows("a", "widgets_widget") == [("c", 1), ("s", 3)]
    assert sorted(Widget.objects.values_list("code", flat=True)) == ["c", "s"]
    assert rows("pg", "widgets_widget") == [("pg-only", 0)]

    Widget.objects.db = None
    assert Widget.objects.db == "pg"
    assert list(Widget.objects.values_list("code", flat=True)) == ["pg-only"]


def test_del_manager_db_undoes_the_swap(widget_table_on_a):
    Widget.objects.db = "a"
    del Widget.objects.db
    assert Widget.objects.db == "pg"


def test_assigning_an_unknown_alias_names_the_known_ones():
    with pytest.raises(ConnectionDoesNotExist, match=r"'nope' is not configured\. Known aliases: a, default"):
        Widget.objects.db = "nope"
    assert Widget.objects.db == "pg"


def test_explicit_using_and_db_manager_win_over_a_swap(widget_table_on_a):
    Widget.objects.db = "a"
    Widget.objects.using("pg").create(code="p", weight=1)
    Widget.objects.db_manager("pg").create(code="q", weight=2)
    Widget(code="r", weight=3).save(using="pg")
    with use_db(Widget, "a"):
        assert Widget.objects.using("pg").count() == 3
    assert rows("a", "widgets_widget") == []
    assert rows("pg", "widgets_widget") == [("p", 1), ("q", 2), ("r", 3)]


# -- precedence: use_db > global swap > MODELS > other routers > default -----------------------------------------
@pytest.mark.usefixtures("fresh_selectors")
def test_precedence():
    with override_settings(DATABASE_ROUTERS=[ROUTER_PATH, SendTo("maria")]):
        assert Artist.objects.db == "a"  # MODELS beats other routers
        Artist.objects.db = "pg"
        try:
            assert Artist.objects.db == "pg"  # global swap beats MODELS
            with use_db(Artist, "default") as info:
                assert info == "default"
                assert Artist.objects.db == router.db_for_write(Artist) == "default"  # use_db beats the swap
            assert Artist.objects.db == "pg"
        finally:
            Artist.objects.db = None
        assert Artist.objects.db == "a"

        with override_settings(OTHER_DATABASES=other_databases(a=[])):
            routing.reset_selector_cache()
            assert Artist.objects.db == "maria"  # other routers beat the default
    with override_settings(OTHER_DATABASES=other_databases(a=[])):
        routing.reset_selector_cache()
        assert Artist.objects.db == "default"


@pytest.mark.usefixtures("fresh_selectors")
def test_a_model_selector_beats_its_app_label():
    with override_settings(OTHER_DATABASES=other_databases(pg=["widgets", "artists.Artist"])):
        routing.reset_selector_cache()
        assert Artist.objects.db == "pg"


def test_use_db_is_isolated_between_threads():
    barrier = threading.Barrier(3, timeout=10)
    seen = {}

    def worker(alias):
        try:
            with use_db(Artist, alias):
                barrier.wait()  # every thread is inside its block from here ...
                seen[alias] = (Artist.objects.db, router.db_for_write(Artist), Artist.objects.db.vendor)
                barrier.wait()  # ... to here
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=worker, args=(alias,)) for alias in ("pg", "maria")]
    for thread in threads:
        thread.start()
    barrier.wait()
    seen["main"] = (Artist.objects.db, router.db_for_write(Artist), Artist.objects.db.vendor)
    barrier.wait()
    for thread in threads:
        thread.join()
    assert seen == {
        "pg": ("pg", "pg", "postgresql"),
        "maria": ("maria", "maria", "mysql"),
        "main": ("a", "a", "sqlite"),
    }


def test_use_db_is_isolated_between_concurrent_tasks():
    seen = {}

    async def task(mine, theirs, inside, recorded):
        with use_db(Artist, mine):
            inside[mine].set()
            await inside[theirs].wait()  # both tasks are inside their blocks from here ...
            seen[mine] = str(Artist.objects.db)
            recorded[mine].set()
            await recorded[theirs].wait()  # ... to here
            seen[mine] += f" {Artist.objects.db}"
        seen[mine] += f" {Artist.objects.db}"

    async def main():
        inside = {"pg": asyncio.Event(), "maria": asyncio.Event()}
        recorded = {"pg": asyncio.Event(), "maria": asyncio.Event()}
        await asyncio.gather(task("pg", "maria", inside, recorded), task("maria", "pg", inside, recorded))

    asyncio.run(main())
    assert seen == {"pg": "pg pg a", "maria": "maria maria a"}


def test_proxy_models_follow_their_concrete_model(clean_tables):
    with isolate_apps("sample_models.artists"):

        class Painter(Artist):
            class Meta:
                proxy = True
                app_label = "artists"

    assert Painter.objects.db == "a"
    with use_db(Artist, "pg"):
        assert Painter.objects.db == "pg"
    Artist.objects.db = "maria"
    try:
        assert Painter.objects.db == "maria"
    finally:
        Artist.objects.db = None
    painter = Painter.objects.create(name="Frida")
    assert painter._state.db == "a"
    assert Artist.objects.using("a").get().name == "Frida"


# -- migrations ----------------------------------------------------------------------------------------------------
def test_allow_migrate_follows_models():
    assert router.allow_migrate_model("a", Artist)
    assert router.allow_migrate_model("maria", Book.categories.through)
    for alias in ("default", "pg", "maria"):
        assert not router.allow_migrate_model(alias, Artist)
    assert router.allow_migrate("a", "artists")  # no model: decided by the app label
    assert not router.allow_migrate("default", "artists")


def test_other_databases_aliases_hold_nothing_unclaimed():
    assert router.allow_migrate("default", "contenttypes", model_name="contenttype")
    for alias in ("a", "pg", "maria"):
        assert not router.allow_migrate(alias, "contenttypes", model_name="contenttype")
    with override_settings(DATABASE_ROUTERS=[ROUTER_PATH, SendTo("pg")]):  # unless another router puts it there
        assert router.allow_migrate("pg", "contenttypes", model_name="contenttype")
        assert not router.allow_migrate("a", "contenttypes", model_name="contenttype")


# -- relations -----------------------------------------------------------------------------------------------------
def test_a_relation_across_connections_is_allowed_when_each_object_is_at_home(clean_tables):
    artist = Artist.objects.create(name="Ada")
    widget = Widget.objects.create(code="w", weight=1)
    exhibit = Exhibit(widget=widget, artist=artist, title="t")
    exhibit.save()
    assert exhibit._state.db == "pg"

    stored = Exhibit.objects.get()
    assert stored.artist_id == artist.pk
    assert stored.artist == artist
    assert stored.artist._state.db == "a"
    assert list(artist.exhibits.values_list("title", flat=True)) == ["t"]


def test_a_relation_to_an_object_away_from_its_alias_is_refused():
    artist = Artist(name="stray")
    artist._state.db = "maria"
    exhibit = Exhibit()
    exhibit._state.db = "pg"
    with pytest.raises(ValueError, match="the current database router prevents this relation"):
        exhibit.artist = artist


def test_a_lazy_object_django_passes_is_routed_as_the_object_it_wraps(clean_tables):
    """``request.user`` is a ``SimpleLazyObject``: assigning it to a foreign key reaches ``allow_relation`` with
    the wrapper, whose ``type()`` is not a model."""
    from django.utils.functional import SimpleLazyObject

    artist = Artist.objects.create(name="Ada")
    lazy = SimpleLazyObject(lambda: Artist.objects.get(pk=artist.pk))
    exhibit = Exhibit(title="t")
    exhibit._state.db = "pg"
    exhibit.artist = lazy  # Django's descriptor asks the routers with the wrapper itself
    assert exhibit.artist_id == artist.pk
    assert routing.MultiDBRouter().allow_relation(lazy, artist) is True
