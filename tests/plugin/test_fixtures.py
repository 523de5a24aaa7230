"""Aliases declared by fixtures; swap_db, use_db, db_queries, multidb_atomic; factories."""

FIXTURE_DECLARED = '''
    import pytest
    from pytest_multidb import DatabaseAccessError
    from sample_models.artists.models import Artist
    from sample_models.factories import ArtistFactory, WidgetFactory
    from sample_models.widgets.models import Widget
    from inner_helpers import committed


    @pytest.fixture
    def artists(uses_db):
        uses_db("a")
        return ArtistFactory.create_batch(3)


    @pytest.fixture
    def committed_widget(uses_db):
        uses_db("b", transaction=True)
        return WidgetFactory()


    def test_1_fixture_declares_a(artists):
        assert Artist.objects.count() == 3
        assert {artist._state.db for artist in artists} == {"a"}
        with pytest.raises(DatabaseAccessError, match=r"touched database alias 'b', which it did not declare "
                           r"\\(declared: a\\)\\. Use @pytest\\.mark\\.uses_db\\('a', 'b'\\)\\."):
            Widget.objects.count()


    def test_2_rolled_back(artists):
        assert Artist.objects.count() == 3  # this test's three only


    @pytest.mark.uses_db("c")
    def test_3_marker_and_fixtures_add_up(artists, committed_widget):
        assert Artist.objects.count() == 3
        assert committed("b") == 1  # the fixture asked for a committing b
        assert committed("a") == 0


    @pytest.mark.uses_db("a", "b")
    def test_4_nothing_left():
        assert Artist.objects.count() == Widget.objects.count() == 0
        assert committed("b") == 0
'''


def test_fixture_declared_aliases(inner, pytester):
    pytester.makepyfile(test_declared=FIXTURE_DECLARED)
    run = inner("-v")
    run.result.assert_outcomes(passed=4)


SWAP = '''
    import pytest
    from django.db import connections
    from sample_models.artists.models import Artist
    from inner_helpers import SERVER, committed, raw_count, tables


    @pytest.mark.uses_db(SERVER)
    def test_0_no_artist_table_on_server():
        assert "artists_artist" not in tables(SERVER)


    @pytest.mark.uses_db("a")
    def test_1_swap(swap_db):
        info = swap_db(Artist, SERVER)          # opens SERVER for the test and installs the missing table
        assert info == SERVER
        assert Artist.objects.db == SERVER
        assert "artists_artist" in connections[SERVER].introspection.table_names()
        Artist.objects.create(name="moved")
        assert raw_count(SERVER, "artists_artist") == 1
        assert raw_count("a", "artists_artist") == 0


    @pytest.mark.uses_db("a", SERVER)
    def test_2_undone(swap_db):
        assert Artist.objects.db == "a"
        assert "artists_artist" not in tables(SERVER)
        assert "artists_artist" not in connections[SERVER].introspection.table_names()
        assert raw_count("a", "artists_artist") == 0


    @pytest.mark.uses_db("a", SERVER, transaction=True)
    def test_3_swap_committing(swap_db):
        swap_db(Artist, SERVER)
        Artist.objects.create(name="committed")
        assert "artists_artist" in tables(SERVER)
        assert raw_count(SERVER, "artists_artist") == 1


    @pytest.mark.uses_db("a", SERVER)
    def test_4_undone(swap_db):
        assert Artist.objects.db == "a"
        assert "artists_artist" not in tables(SERVER)
        assert committed("a") == 0


    @pytest.mark.uses_db("a", SERVER)
    def test_5_swap_to_home_keeps_table(swap_db):
        swap_db(Artist, "a")                        # the table is there already: nothing installed or dropped
        Artist.objects.create(name="home")
        assert Artist.objects.count() == 1


    @pytest.mark.uses_db("a")
    def test_6_table_still_there():
        assert Artist.objects.count() == 0
'''


def test_swap_db(inner, pytester, backend):
    """A global swap, undone at teardown; the missing table is installed for the test only."""
    pytester.makepyfile(test_swap=SWAP)
    run = inner("-v", backend=backend)
    run.result.assert_outcomes(passed=7)


SQLITE_FIXTURES = '''
    import threading

    import pytest
    from sample_models.artists.models import Artist
    from sample_models.widgets.models import Widget
    from inner_helpers import committed, raw_count


    @pytest.mark.uses_db("a", "b")
    def test_use_db(swap_db, use_db):
        swap_db(Widget, "a")                   # global swap (and the table on a, for this test)
        with use_db(Widget, "b") as info:      # context-local swap beats the global one
            assert info == "b"
            assert Widget.objects.db == "b"
            Widget.objects.create(code="in-b", weight=1)
            seen = []
            thread = threading.Thread(target=lambda: seen.append(str(Widget.objects.db)))
            thread.start()
            thread.join()
            assert seen == ["a"]               # other threads keep the global swap
        assert Widget.objects.db == "a"
        Widget.objects.create(code="in-a", weight=1)
        assert raw_count("a", "widgets_widget") == 1
        assert raw_count("b", "widgets_widget") == 1


    @pytest.mark.uses_db("a", "b")
    def test_db_queries(db_queries):
        Artist.objects.create(name="x")
        assert Artist.objects.count() == 1
        assert db_queries["a"].count == 2
        assert db_queries["a"].sql[0].startswith("INSERT")
        assert db_queries["b"].count == 0
        Widget.objects.filter(weight=1).count()
        Widget.objects.count()
        assert db_queries["b"].count == 2
        assert len(db_queries["c"]) == 0       # not declared: reads as empty


    @pytest.fixture
    def one_artist(uses_db):
        uses_db("a")
        return Artist.objects.create(name="from fixture")


    def test_db_queries_aliases_declared_later(db_queries, one_artist, swap_db):
        assert db_queries["a"].count == 1      # the fixture declared a after db_queries was set up
        assert Artist.objects.count() == 1
        assert db_queries["a"].count == 2
        swap_db(Widget, "b")                   # opens b during the test
        Widget.objects.count()
        assert db_queries["b"].count == 1


    @pytest.mark.uses_db("a", "b")
    def test_multidb_atomic_rolls_back_all(multidb_atomic):
        with pytest.raises(RuntimeError):
            with multidb_atomic():
                Artist.objects.create(name="x")
                Widget.objects.create(code="x", weight=1)
                raise RuntimeError("boom")
        assert Artist.objects.count() == Widget.objects.count() == 0
        with multidb_atomic():
            Artist.objects.create(name="y")
            Widget.objects.create(code="y", weight=1)
        assert Artist.objects.count() == Widget.objects.count() == 1


    @pytest.mark.uses_db("a", "b", transaction=True)
    def test_multidb_atomic_commits_all(multidb_atomic):
        with pytest.raises(RuntimeError):
            with multidb_atomic():
                Artist.objects.create(name="x")
                Widget.objects.create(code="x", weight=1)
                raise RuntimeError("boom")
        assert committed("a") == committed("b") == 0
        with multidb_atomic():
            Artist.objects.create(name="y")
            Widget.objects.create(code="y", weight=1)
            assert committed("a") == committed("b") == 0
        assert committed("a") == committed("b") == 1


    @pytest.mark.uses_db("a", "b")
    def test_nothing_left():
        assert committed("a") == committed("b") == 0
        assert Widget.objects.db == "b"
'''

FACTORIES = '''
    import pytest
    from sample_models.artists.models import Artist
    from sample_models.factories import ArtistFactory, ExhibitFactory, WidgetFactory
    from sample_models.widgets.models import Exhibit, Widget
    from inner_helpers import raw_count


    class WidgetOnA(WidgetFactory):
        class Meta:
            database = "a"


    @pytest.mark.uses_db("a", "b")
    def test_factories(swap_db):
        # each model's own connection
        assert ArtistFactory()._state.db == "a"
        assert WidgetFactory()._state.db == "b"
        assert raw_count("a", "artists_artist") == 1
        assert raw_count("b", "widgets_widget") == 1

        # SubFactories follow their own models: the exhibit and its widget on b, its artist on a
        exhibit = ExhibitFactory()
        assert (exhibit._state.db, exhibit.widget._state.db, exhibit.artist._state.db) == ("b", "b", "a")
        assert raw_count("b", "widgets_exhibit") == 1
        assert raw_count("a", "artists_artist") == 2

        # a swap moves the factory along
        swap_db(Widget, "a")
        assert WidgetFactory()._state.db == "a"
        assert raw_count("a", "widgets_widget") == 1
        Widget.objects.db = "b"                # manager-level global swap back to b; the table stays on a

        # Meta.database beats routing; _using= beats both, for the factory's own model only
        assert WidgetOnA()._state.db == "a"
        assert WidgetFactory(_using="a")._state.db == "a"
        assert WidgetOnA(_using="b")._state.db == "b"
        assert raw_count("a", "widgets_widget") == 3
        assert raw_count("b", "widgets_widget") == 3
        assert Widget.objects.count() == 3     # routing: b

        exhibit = ExhibitFactory(_using="b", widget__code="sub")
        assert (exhibit._state.db, exhibit.widget._state.db, exhibit.artist._state.db) == ("b", "b", "a")

        # batches
        assert {a._state.db for a in ArtistFactory.create_batch(2)} == {"a"}
        assert Artist.objects.count() == 5
        assert Exhibit.objects.count() == 2


    @pytest.mark.uses_db("a", "b")
    def test_nothing_left():
        assert Artist.objects.count() == Widget.objects.count() == Exhibit.objects.count() == 0
'''


def test_use_db_db_queries_multidb_atomic_factories(inner, pytester):
    pytester.makepyfile(test_more=SQLITE_FIXTURES, test_zfactories=FACTORIES)
    run = inner("-v")
    run.result.assert_outcomes(passed=8)
