"""Settings -> specs: key and engine translation, merging into DATABASES, and one clear error per bad setting."""

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db.utils import ConnectionHandler
from django.test import override_settings

from pytest_multidb import conf, routing, settings_checks
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


@pytest.mark.parametrize("models", ["artists", None, {"artists": 1}, {"artists"}, [1]])
def test_models_not_a_list_of_strings(models):
    error = config_error(specs, {"x": {**SQLITE, "MODELS": models}})
    assert_names(error, "x", "OTHER_DATABASES['x']['MODELS']", "write MODELS = ['app_label', 'app_label.Model']")
    assert f"expected a list of strings, got {models!r}" in str(error)


@pytest.mark.parametrize("other", [[{"ENGINE": "sqlite3"}], "a"])
def test_other_databases_not_a_dict(other):
    error = config_error(specs, other)
    assert error.alias is None
    assert str(error).startswith("OTHER_DATABASES: expected a dict of aliases, got a ")
    assert "Fix: write OTHER_DATABASES = {'alias': {" in str(error)


@pytest.mark.parametrize(("key", "value", "fix"), [
    ("TEST", "sqlite", "write 'TEST' as a dict, e.g. {'PROVISION': 'auto'}"),
    ("OPTIONS", "timeout=5", "write 'OPTIONS' as a dict, e.g. {'connect_timeout': 5}"),
    ("DATABASE_OPTIONS", ["timeout"], "write 'DATABASE_OPTIONS' as a dict"),
])
def test_dict_settings_that_are_not_dicts(key, value, fix):
    error = config_error(specs, {"x": {**SQLITE, key: value}})
    assert_names(error, "x", f"OTHER_DATABASES['x'][{key!r}]", fix)
    assert f"expected a dict, got {value!r}" in str(error)
    databases = {"default": {**SQLITE, "TEST": value}}
    error = config_error(conf.validate_settings, SimpleNamespace(DATABASES=databases))
    assert_names(error, "default", "DATABASES['default']['TEST']", "write 'TEST' as a dict")


@pytest.mark.parametrize("provision", [["server"], 1])
def test_provision_kind_not_a_string(provision):
    error = config_error(specs, {"x": {**SQLITE, "TEST": {"PROVISION": provision}}})
    assert_names(error, "x", "OTHER_DATABASES['x']['TEST']['PROVISION']", "write one of 'auto', 'sqlite',")


@pytest.mark.parametrize(("key", "meant"), [("MODEL", "MODELS"), ("models", "MODELS"), ("ENGIN", "ENGINE"),
                                            ("DATABASE_HOTS", "DATABASE_HOST")])
def test_misspelled_key(key, meant):
    error = config_error(specs, {"x": {**SQLITE, key: "value"}})
    assert_names(error, "x", f"OTHER_DATABASES['x'][{key!r}]", f"rename it to {meant!r}")
    assert f"unknown key {key!r} (did you mean {meant!r}?)" in str(error)


def test_keys_of_third_party_backends_pass_through():
    [spec] = specs({"x": {**SQLITE, "SERVICE_NAME": "orcl"}}).values()
    assert spec.settings["SERVICE_NAME"] == "orcl"


@pytest.mark.parametrize(("engine", "meant"), [
    ("django.db.backends.nosuch", None),
    ("my.own.backend", None),
    ("django.db.backends.mariadb", "django.db.backends.mysql"),
    ("django.db.backend.sqlite3", "django.db.backends.sqlite3"),
    ("django.db.backends.postgresql.base", "django.db.backends.postgresql"),
])
def test_engine_that_does_not_exist(engine, meant):
    fix = f"did you mean {meant!r}? Otherwise use one of" if meant else "use one of django.db.backends.mysql,"
    for setting, call in [
        ("OTHER_DATABASES['x']['ENGINE']", lambda: specs({"x": {"ENGINE": engine}})),
        ("DATABASES['x']['ENGINE']", lambda: conf.validate_settings(
            SimpleNamespace(DATABASES={"default": SQLITE, "x": {"ENGINE": engine}}))),
    ]:
        error = config_error(call)
        assert_names(error, "x", setting, fix)
        assert f"no database backend {engine!r} is installed (no module {engine}.base)" in str(error)


def test_engine_not_a_string():
    error = config_error(specs, {"x": {"ENGINE": 3}})
    assert_names(error, "x", "OTHER_DATABASES['x']['ENGINE']", "write e.g. 'django.db.backends.postgresql'")


@pytest.mark.parametrize(("databases", "problem", "fix"), [
    ([SQLITE], "expected a dict of aliases, got a list", "write DATABASES = {'default': {"),
    ({"main": SQLITE}, "no 'default' alias (found 'main')", "name one of the connections 'default'"),
    ({"default": "sqlite"}, "expected a dict, got str", "give the alias a dict of connection settings"),
])
def test_bad_databases(databases, problem, fix):
    error = config_error(conf.validate_settings, SimpleNamespace(DATABASES=databases))
    assert problem in str(error)
    assert f"Fix: {fix}" in str(error)


@pytest.mark.parametrize("databases", [{}, {"default": {}}, {"default": {"ENGINE": ""}}],
                         ids=["none", "no-engine", "empty-engine"])
def test_databases_that_django_completes_are_valid(databases):
    conf.validate_settings(SimpleNamespace(DATABASES=databases))


def test_the_layer_settings_are_valid():
    conf.validate_settings()


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
    ("django.db.backends.oracle", "django.db.backends.oracle"),  # installed; its driver is not (never imported)
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


def test_default_alias_whose_driver_is_missing():
    """Django loads the default backend while importing models: a missing driver is named before that."""
    error = config_error(conf.validate_settings,
                         SimpleNamespace(DATABASES={"default": {"ENGINE": "django.db.backends.oracle"}}))
    assert_names(error, "default", "DATABASES['default']['ENGINE']", "pip install oracledb")
    assert "cannot load the backend 'django.db.backends.oracle' (is its driver installed?): Error loading" in str(error)


def test_engine_names_django_accepts_are_accepted():
    """Django's ``load_backend`` still takes the pre-3.0 name of the PostgreSQL backend: so do we."""
    old = "django.db.backends.postgresql_psycopg2"
    [spec] = specs({"x": {"ENGINE": old, "NAME": "x"}}).values()
    assert spec.engine == old
    assert spec.vendor == "postgresql"
    conf.validate_settings(SimpleNamespace(DATABASES={"default": SQLITE, "x": {"ENGINE": old, "NAME": "x"}}))


def test_near_miss_and_did_you_mean():
    known = ("MODELS", "ENGINE", "NAME")
    assert settings_checks.near_miss("MODEL", known) == "MODELS"
    assert settings_checks.near_miss("engine", known) == "ENGINE"  # any case
    assert settings_checks.near_miss("MODELS", known) is None  # a known name is no near miss
    assert settings_checks.near_miss("TIMEOUT", known) is None
    assert settings_checks.near_miss(3, known) is None
    assert settings_checks.misspelled_key("MODEL") == "MODELS"
    assert settings_checks.misspelled_key("DATABASE_ENGIN") == "DATABASE_ENGINE"
    assert settings_checks.did_you_mean("defualt", ["default", "a", "b"]) == "did you mean 'default'? "
    assert settings_checks.did_you_mean("zzz", ["default", "a"]) == ""
