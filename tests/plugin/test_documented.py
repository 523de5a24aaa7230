"""Documented behaviours of the plugin that no other test checks (docs/plugin.md and docs/layer.md)."""

# "the plugin ... wires the layer even when pytest_multidb is not in INSTALLED_APPS": the sample settings
# without the app (a team that adopts pytest-multidb for its tests only).
WITHOUT_APP = '''
    from sample_models.settings import *  # noqa: F403

    INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "pytest_multidb"]  # noqa: F405
'''

WIRED = '''
    import pytest
    from django.apps import apps
    from django.conf import settings
    from inner_helpers import raw_count, tables
    from sample_models.artists.models import Artist
    from sample_models.widgets.models import Widget


    def test_the_app_is_not_installed():
        assert not apps.is_installed("pytest_multidb")
        assert settings.DATABASE_ROUTERS == ["pytest_multidb.routing.MultiDBRouter"]


    @pytest.mark.uses_db("default", "a", "b")
    def test_the_layer_is_wired():
        # routing by OTHER_DATABASES[...]["MODELS"]
        assert (Artist.objects.db, Widget.objects.db) == ("a", "b")
        assert Artist.objects.db.vendor == "sqlite"
        Artist.objects.create(name="x")
        Widget.objects.create(code="w", weight=1)
        assert (raw_count("a", "artists_artist"), raw_count("b", "widgets_widget")) == (1, 1)
        assert not {"artists_artist", "widgets_widget"} & tables("default")
        # Manager.db is assignable
        Widget.objects.db = "a"
        try:
            assert Widget.objects.db == "a"
            assert Widget.objects.all().db == "a"
        finally:
            Widget.objects.db = None
        assert Widget.objects.db == "b"
'''


def test_layer_is_wired_without_the_app_in_installed_apps(inner, pytester):
    pytester.makepyfile(no_app_settings=WITHOUT_APP, test_wired=WIRED)
    run = inner("--multidb-settings", "no_app_settings", settings=False)
    run.result.assert_outcomes(passed=2)
    assert set(run.summary()) == {"default", "a", "b"}
