"""What a run needs before its run object exists: which Django settings, Django set up, the schema cache directory.

The settings come from pytest-multidb's own sources and pytest-django's (``--ds``, ini ``DJANGO_SETTINGS_MODULE``,
the ``manage.py`` discovery, django-configurations), as pytest-django's ``_setup_django`` finds them; ``run.py``
sets Django up through here and ``compat/`` reads what was used, so neither asks the other.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from .apps import wire_layer
from .conf import ConfigurationError, validate_settings
from .messages import plugin as texts
from .stash_keys import BOOTSTRAP_KEY

SETTINGS_MODULE_ENV = "DJANGO_SETTINGS_MODULE"
CONFIGURATION_ENV = "DJANGO_CONFIGURATION"
#: Where the schema cache lives when pytest's cache provider is off (``-p no:cacheprovider``).
CACHE_DIR_ENV = "MULTIDB_CACHE_DIR"


def _bootstrap(config: pytest.Config) -> dict[str, Any]:
    return config.stash.setdefault(BOOTSTRAP_KEY, {})


def ini_boolean(value: object, name: str) -> bool:
    """An ini option's ``true`` / ``false`` (pytest-django's ``_get_boolean_value``); a usage error otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise pytest.UsageError(texts.INI_NOT_A_BOOLEAN.format(name=name, value=value))


def find_project(config: pytest.Config) -> str:
    """pytest-django's ``django_find_project``: the first directory holding ``manage.py`` among the path
    arguments, their parents, the current directory and its parents goes first on ``sys.path`` (once).
    Returns what was done, for messages."""
    done = _bootstrap(config)
    if "project" in done:
        return done["project"]
    value = config.getini("django_find_project")
    if not ini_boolean(value, "django_find_project"):
        done["project"] = "django_find_project = false: no manage.py search"
        return done["project"]
    args = [str(a).split("::", 1)[0] for a in config.invocation_params.args if not str(a).startswith("-")]
    cwd = Path.cwd()
    paths = [Path(a) for a in args]
    if cwd not in paths:
        paths.append(cwd)
    for path in paths:
        for candidate in (path, *path.parents):
            try:
                found = candidate.is_dir() and (candidate / "manage.py").exists()
            except OSError:
                found = False
            if found:
                sys.path.insert(0, str(candidate.absolute()))
                done["project"] = f"found a Django project in {candidate} (manage.py) and put it on sys.path"
                return done["project"]
    done["project"] = "no manage.py found"
    return done["project"]


def settings_source(config: pytest.Config) -> tuple[str, str] | None:
    """Where the Django settings module comes from. First found wins: ``--multidb-settings`` > ``--ds`` > ini
    ``multidb_settings`` > env ``DJANGO_SETTINGS_MODULE`` > ini ``DJANGO_SETTINGS_MODULE``.

    pytest-django's sources (``--ds``, its ini key) count where its vocabulary is registered
    (``compat.pytest_django``, unless ``-p no:multidb.pytest_django``); then this also runs the ``manage.py``
    discovery (``django_find_project``) and, with a configuration (``--dc`` > env ``DJANGO_CONFIGURATION`` >
    ini ``DJANGO_CONFIGURATION``), installs django-configurations' importer."""
    options = config.known_args_namespace
    pytest_django = hasattr(options, "ds")  # its options and ini keys are added together
    if pytest_django:
        find_project(config)
    found = next(
        (
            (source, value)
            for source, value in (
                ("--multidb-settings", getattr(options, "multidb_settings", None)),
                ("--ds", getattr(options, "ds", None)),
                ("ini option multidb_settings", config.getini("multidb_settings")),
                (SETTINGS_MODULE_ENV, os.environ.get(SETTINGS_MODULE_ENV)),
                (f"ini option {SETTINGS_MODULE_ENV}", config.getini(SETTINGS_MODULE_ENV) if pytest_django else None),
            )
            if value
        ),
        None,
    )
    if pytest_django:
        _bootstrap(config)["settings"] = found
        if found is not None:
            configure_class(config)
    return found


def configuration_source(config: pytest.Config) -> tuple[str, str] | None:
    """The django-configurations class: ``--dc`` > env ``DJANGO_CONFIGURATION`` > ini ``DJANGO_CONFIGURATION``."""
    for source, value in (
        ("--dc", getattr(config.known_args_namespace, "dc", None)),
        (CONFIGURATION_ENV, os.environ.get(CONFIGURATION_ENV)),
        (f"ini option {CONFIGURATION_ENV}", config.getini(CONFIGURATION_ENV)),
    ):
        if value:
            return source, value
    return None


def configure_class(config: pytest.Config) -> None:
    """With a configuration class: set ``DJANGO_CONFIGURATION`` and install django-configurations' importer
    (once), as pytest-django does; a usage error naming the fix when the package is missing."""
    done = _bootstrap(config)
    found = configuration_source(config)
    if found is None or "configuration" in done:
        return
    source, value = found
    os.environ[CONFIGURATION_ENV] = value
    try:
        import configurations.importer
    except ImportError as error:
        raise pytest.UsageError(texts.CONFIGURATIONS_MISSING.format(value=value, source=source, error=error)) from error
    configurations.importer.install()
    done["configuration"] = found


def bootstrap_lines(config: pytest.Config) -> list[str]:
    """What the bootstrap used: settings module, configuration, manage.py discovery (for the header)."""
    done = config.stash.get(BOOTSTRAP_KEY, {})
    lines = []
    if done.get("settings"):
        source, module = done["settings"]
        lines.append(f"Django settings {module} (from {source})")
    if done.get("configuration"):
        source, value = done["configuration"]
        lines.append(f"django-configurations class {value} (from {source})")
    if done.get("project", "").startswith("found"):
        lines.append(done["project"])
    return lines


def setup_django(config: pytest.Config) -> bool:
    """Configure Django (once) and wire the multi-DB layer; ``False`` when no settings are known."""
    import django
    from django.apps import apps
    from django.conf import settings

    if not apps.ready:
        found = settings_source(config)
        if found is None and not settings.configured:
            return False
        if found is not None and not settings.configured:
            source, module = found
            try:
                importlib.import_module(module)
            except Exception as error:
                raise pytest.UsageError(texts.SETTINGS_NOT_IMPORTABLE.format(
                    module=module, source=source, error_type=type(error).__name__, error=error)) from error
            os.environ[SETTINGS_MODULE_ENV] = module
        try:
            validate_settings()  # wrong types in DATABASES would otherwise crash inside django.setup()
            django.setup()
        except ConfigurationError as error:
            raise pytest.UsageError(texts.BAD_SETTINGS.format(error=error)) from error
    try:
        wire_layer()
    except ConfigurationError as error:
        raise pytest.UsageError(texts.BAD_SETTINGS.format(error=error)) from error
    return True


def schema_cache_dir(config: pytest.Config) -> Path:
    """pytest's cache directory (``.pytest_cache/d/multidb``); with the cache provider off, ``$MULTIDB_CACHE_DIR``
    or ``<tmp>/pytest-multidb-cache/<project>``, so a run without it still reuses its schemas."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return cache.mkdir("multidb")
    if config.pluginmanager.has_plugin("cacheprovider"):
        # Before pytest_configure (``--multidb-clean`` runs in pytest_cmdline_main) there is no config.cache yet,
        # and pytest makes it only through the private Cache.for_config: the directory it will have, as
        # Cache.for_config resolves the ini option cache_dir, plus Cache.mkdir's "d/" (made when first written).
        root = config.rootpath / os.path.expandvars(os.path.expanduser(config.getini("cache_dir")))
        return root / "d" / "multidb"
    # No cache provider at all (-p no:cacheprovider): a directory of our own, where the next run finds it.
    fallback = os.environ.get(CACHE_DIR_ENV)
    if fallback:
        directory = Path(fallback)
    else:
        project = hashlib.sha256(str(config.rootpath).encode()).hexdigest()[:12]
        directory = Path(tempfile.gettempdir()) / "pytest-multidb-cache" / project
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory
