"""``same_database.py``: which aliases are one database, mirrors, and the order of TEST["DEPENDENCIES"]."""

from __future__ import annotations

import pytest

from pytest_multidb.conf import ConfigurationError, DatabaseSpec
from pytest_multidb.same_database import (
    check_dependencies,
    dependency_order,
    in_memory_under_django,
    mirrors,
    signature,
)

PG = {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "HOST": "db", "PORT": "5432"}


def spec(alias: str, test: dict | None = None, **settings: str) -> DatabaseSpec:
    return DatabaseSpec(alias, {**PG, **settings}, test=test or {})


def test_same_server_and_name_is_one_database_whatever_the_options():
    assert signature(spec("a", OPTIONS="x")) == signature(spec("b"))
    assert signature(spec("a")) != signature(spec("b", NAME="other"))
    assert signature(spec("a")) != signature(spec("b", PORT="5433"))
    assert signature(spec("a", {"NAME": "test_x"})) != signature(spec("b"))


def test_mirrors_and_their_mistakes():
    specs = {"a": spec("a"), "r": spec("r", {"MIRROR": "a"})}
    assert mirrors(specs) == {"r": "a"}
    with pytest.raises(ConfigurationError, match=r"\['TEST'\]\['MIRROR'\] \(alias 'r'\): names 'x', which is not"):
        mirrors({**specs, "r": spec("r", {"MIRROR": "x"})})
    with pytest.raises(ConfigurationError, match="is itself a mirror"):
        mirrors({**specs, "s": spec("s", {"MIRROR": "r"})})


def test_dependencies_order_only_the_aliases_needed():
    specs = {"default": spec("default"), "a": spec("a", {"DEPENDENCIES": ["b"]}),
             "b": spec("b", {"DEPENDENCIES": ["default"]})}
    assert dependency_order(["a", "b"], specs) == ["b", "a"]  # 'default' is not needed: not waited for
    assert dependency_order(["a", "b", "default"], specs) == ["default", "b", "a"]
    specs["b"] = spec("b", {"DEPENDENCIES": ["a"]})
    with pytest.raises(ConfigurationError, match="circular dependency between 'a', 'b'"):
        dependency_order(["a", "b"], specs)


def lite(alias: str, test: dict | None = None, name: str = "x.db") -> DatabaseSpec:
    return DatabaseSpec(alias, {"ENGINE": "django.db.backends.sqlite3", "NAME": name}, test=test or {})


def test_sqlite_in_memory_under_django_is_the_aliases_own():
    assert in_memory_under_django(lite("a"))
    assert in_memory_under_django(lite("a", {"NAME": ":memory:"}))
    assert in_memory_under_django(lite("a", {"NAME": "file:t?mode=memory&cache=shared"}))
    assert not in_memory_under_django(lite("a", {"NAME": "t.db"}))
    assert not in_memory_under_django(spec("a"))
    assert signature(lite("a")) == ("sqlite", "x.db", "a") != signature(lite("b"))
    on_file = {"NAME": "t.db"}
    assert signature(lite("a", on_file)) == ("sqlite", "x.db", "t.db") == signature(lite("b", on_file))
    assert signature(spec("a")) == ("django.db.backends.postgresql", "db", "5432", "shop")


def test_a_dependency_on_no_alias_names_its_near_miss():
    specs = {"default": spec("default"), "a": spec("a", {"DEPENDENCIES": ["defualt"]}), "b": spec("b")}
    with pytest.raises(ConfigurationError) as raised:
        check_dependencies(specs)
    assert raised.value.alias == "a"
    assert "names 'defualt', which is not an alias" in str(raised.value)
    assert "did you mean 'default'? use one of default, b" in str(raised.value)
    check_dependencies({**specs, "a": spec("a", {"DEPENDENCIES": ["default", "b"]})})  # no error
