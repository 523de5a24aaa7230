"""Settings -> specs: key and engine translation, merging into DATABASES, and one clear error per bad setting."""

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db.utils import ConnectionHandler
from django.test import override_settings

from pytest_multidb import conf, routing
from pytest_multidb.conf import ConfigurationError, model_selectors, normalize_entry, other_database_specs

SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}


def specs(other, databases=None):
    return other_database_specs(SimpleNamespace(OTHER_DATABASES=other, DATABASES=databases or {"default": SQLITE}))


def config_error(call, *args) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        call(*args)
    return info.value


def assert_names(error, alias, setting, fix):
    message = str(error)
    assert error.alias == alias
    assert f"alias {alias!r}" in message
    assert error.setting == setting
    assert message.startswith(setting)
    assert f"Fix: {fix}" in message


@pytest.fixture
def fresh_selectors():
    yield
    routing.reset_selector_cache()


# -- one error per bad setting ---------------------------------------------------------------------------------
def test_old_and_new_key_for_one_setting():
    error = config_error(specs, {"x": {"ENGINE": "sqlite3", "DATABASE_NAME": "one", "NAME": "two"}})
    assert_names(error, "x", "OTHER_DATABASES['x']", "keep only one of them (prefer 'NAME')")
    assert "both 'DATABASE_NAME' and 'NAME' are set" in str(error)


def test_unknown_engine():
    error = config_error(specs, {"x": {"DATABASE_ENGINE": "oracle9", "DATABASE_NAME": "x"}})
    assert_names(error, "x", "OTHER_DATABASES['x']['DATABASE_ENGINE']", "use one of mariadb, mysql, postgres,")
    assert "unknown engine 'oracle9'" in str(error)


def test_missing_engine():
    error = config_error(specs, {"x": {"DATABASE_NAME": "x"}})
    assert_names(error, "x", "OTHER_DATABASES['x']", "add 'ENGINE'")


def test_models_not_a_list_of_strings():
    error = config_error(specs, {"x": {**SQLITE, "MODELS": "artists"}})
    assert_names(error, "x", "OTHER_DATABASES['x']['MODELS']", "write MODELS = ['app_label', 'app_label.Model']")


def test_alias_clashes_with_databases():
    error = config_error(specs, {"x": SQLITE}, {"default": SQLITE, "x": SQLITE})
    assert_names(error, "x", "OTHER_DATABASES['x']", "rename one of them")
    assert "also defined in DATABASES" in str(error)


def test_same_selector_under_two_aliases():
    other = {"x": {**SQLITE, "MODELS": ["artists"]}, "y": {**SQLITE, "MODELS": ["Artists"]}}
    error = config_error(model_selectors, SimpleNamespace(OTHER_DATABASES=other))
    assert_names(error, "y", "OTHER_DATABASES['y']['MODELS']", "list each app or model under one alias only")
    assert "'Artists' is also claimed by alias 'x'" in str(error)


def test_app_and_one_of_its_models_under_two_aliases_is_fine():
    other = {"x": {**SQLITE, "MODELS": ["artists"]}, "y": {**SQLITE, "MODELS": ["artists.Artist"]}}
    assert model_selectors(SimpleNamespace(OTHER_DATABASES=other)) == {"artists": "x", "artists.artist": "y"}


@pytest.mark.usefixtures("fresh_selectors")
@pytest.mark.parametrize(("selector", "problem", "fix"), [
    ("nosuchapp", "'nosuchapp' names no installed app", "use an installed app label"),
    ("artists.Painter", "app 'artists' has no model 'painter'", "use one of ['Artist']"),
])
def test_selector_naming_nothing_installed(selector, problem, fix):
    with override_settings(OTHER_DATABASES={**settings.OTHER_DATABASES, "x": {**SQLITE, "MODELS": [selector]}}):
        error = config_error(routing.validate_selectors)
    assert_names(error, "x", "OTHER_DATABASES['x']['MODELS']", fix)
    assert problem in str(error)


# -- translation -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("short", "engine"), [
    ("sqlite3", "django.db.backends.sqlite3"),
    ("postgresql", "django.db.backends.postgresql"),
    ("postgresql_psycopg2", "django.db.backends.postgresql"),
    ("mysql", "django.db.backends.mysql"),
    ("django.db.backends.mysql", "django.db.backends.mysql"),
    ("my.own.backend", "my.own.backend"),
])
@pytest.mark.parametrize("key", ["DATABASE_ENGINE", "ENGINE"])
def test_short_engine_names(key, short, engine):
    assert normalize_entry("x", {key: short})[0] == {"ENGINE": engine}


def test_old_keys_become_modern_keys_and_models_is_removed():
    entry = {
        "DATABASE_ENGINE": "postgresql", "DATABASE_NAME": "n", "DATABASE_USER": "u", "DATABASE_PASSWORD": "p",
        "DATABASE_HOST": "h", "DATABASE_PORT": "5433", "DATABASE_OPTIONS": {"sslmode": "disable"},
        "TEST": {"NAME": "t"}, "MODELS": ["artists", "widgets.Widget"],
    }
    conn, models = normalize_entry("x", entry)
    assert conn == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "n", "USER": "u", "PASSWORD": "p", "HOST": "h",
        "PORT": "5433", "OPTIONS": {"sslmode": "disable"}, "TEST": {"NAME": "t"},
    }
    assert models == ("artists", "widgets.Widget")
    [spec] = specs({"x": entry}).values()
    assert (spec.alias, spec.models, spec.test, spec.vendor) == ("x", models, {"NAME": "t"}, "postgresql")
    assert "MODELS" not in spec.settings


def test_database_specs_of_the_layer_settings():
    found = conf.database_specs()
    assert list(found) == ["default", "a", "pg", "maria"]
    assert [s.vendor for s in found.values()] == ["sqlite", "sqlite", "postgresql", "mysql"]
    assert found["a"].models == ("artists",)
    assert found["a"].from_other_databases
    assert not found["default"].from_other_databases
    assert "MODELS" not in settings.DATABASES["maria"]
    assert settings.DATABASES["maria"]["OPTIONS"] == {"charset": "utf8mb4"}


# -- merging into DATABASES and Django's connection handler ----------------------------------------------------
@pytest.fixture
def merged_alias():
    yield "merged_x"
    conf._merged.pop("merged_x", None)


@pytest.mark.parametrize("resolved", ["before", "before_as_copy", "after"])
def test_merge_other_databases(merged_alias, resolved, tmp_path):
    databases = {"default": dict(SQLITE)}
    handler = ConnectionHandler(dict(databases) if resolved == "before_as_copy" else databases)
    if resolved != "after":
        assert list(handler.settings) == ["default"]
    entry = {"DATABASE_ENGINE": "sqlite3", "DATABASE_NAME": str(tmp_path / "x.db"), "MODELS": ["artists"]}
    fake_settings = SimpleNamespace(DATABASES=databases, OTHER_DATABASES={merged_alias: entry})

    conf.merge_other_databases(fake_settings, handler)
    merged = databases[merged_alias]
    conf.merge_other_databases(fake_settings, handler)  # merging twice is harmless
    assert databases[merged_alias] is merged

    resolved_entry = handler.settings[merged_alias]
    assert resolved_entry["ENGINE"] == "django.db.backends.sqlite3"
    assert "MODELS" not in resolved_entry
    # Django's own defaults (what configure_settings adds) are there, so the connection works.
    assert resolved_entry["CONN_MAX_AGE"] == 0
    assert resolved_entry["TIME_ZONE"] is None
    assert resolved_entry["TEST"]["MIGRATE"] is True
    try:
        with handler[merged_alias].cursor() as cursor:
            cursor.execute("CREATE TABLE t (id integer)")
        assert (tmp_path / "x.db").exists()
    finally:
        handler.close_all()
