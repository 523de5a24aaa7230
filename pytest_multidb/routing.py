"""Which alias a model's queries go to: swaps, ``MODELS`` selectors, then the project's own routers.

Precedence, first match wins: context-local swap (``use_db``) > global swap (``Model.objects.db = ...``) >
``MODELS`` selector (``app_label.Model`` beats ``app_label``) > the project's routers > ``default``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from types import MappingProxyType
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models

from .conf import ConfigurationError, model_selectors
from .db import ConnectionInfo, check_alias
from .messages import settings as texts

ROUTER_PATH = "pytest_multidb.routing.MultiDBRouter"

_local_swaps: ContextVar[Mapping[str, str]] = ContextVar("multidb_local_swaps", default=MappingProxyType({}))
_global_swaps: dict[str, str] = {}


def model_keys(model: type[models.Model]) -> tuple[str, ...]:
    """Labels a routing decision for ``model`` may be keyed by, most specific first.

    Proxies follow their concrete model; auto-created M2M tables follow the model that declares them.
    """
    opts = model._meta
    keys = [opts.label_lower]
    if opts.proxy:
        keys.append(opts.concrete_model._meta.label_lower)
    if opts.auto_created:
        keys.append(opts.auto_created._meta.label_lower)
    return tuple(keys)


@cache
def _resolved() -> tuple[Mapping[str, str], Mapping[str, str], ConfigurationError | None]:
    """``(model label -> alias, app label -> alias, the first bad selector's error)`` from ``MODELS``.

    A bad selector routes nothing (so ``manage.py check`` can run and report it as ``multidb.E002`` / ``E003``);
    ``validate_selectors`` raises its error.
    """
    by_model, by_app = {}, {}
    try:
        selectors = model_selectors(settings)
    except ConfigurationError as error:
        return MappingProxyType({}), MappingProxyType({}), error
    problem = None
    for selector, alias in selectors.items():
        where = f"OTHER_DATABASES[{alias!r}]['MODELS']"
        app_label, _, model_name = selector.partition(".")
        try:
            app_config = apps.get_app_config(app_label)
        except LookupError:
            problem = problem or ConfigurationError(
                alias, where, texts.SELECTOR_NO_APP.format(selector=selector), texts.SELECTOR_NO_APP_FIX,
            )
            continue
        if not model_name:
            by_app[app_config.label] = alias
            continue
        try:
            model = app_config.get_model(model_name)
        except LookupError:
            problem = problem or ConfigurationError(
                alias, where, texts.SELECTOR_NO_MODEL.format(selector=selector, app_label=app_label,
                                                             model_name=model_name),
                texts.USE_ONE_OF.format(known=sorted(m.__name__ for m in app_config.get_models())),
            )
            continue
        by_model[model._meta.label_lower] = alias
    return MappingProxyType(by_model), MappingProxyType(by_app), problem


def _selector_map() -> tuple[Mapping[str, str], Mapping[str, str]]:
    """``(model label -> alias, app label -> alias)`` from the valid ``MODELS`` selectors."""
    by_model, by_app, _ = _resolved()
    return by_model, by_app


def reset_selector_cache() -> None:
    """Forget the resolved ``MODELS`` selectors (after settings changed)."""
    _resolved.cache_clear()


def validate_selectors() -> None:
    """Resolve ``MODELS`` now, raising ConfigurationError for a bad selector."""
    reset_selector_cache()
    problem = _resolved()[2]
    if problem is not None:
        raise problem


def selected_alias(model: type[models.Model]) -> str | None:
    """The alias ``MODELS`` assigns to ``model``, ignoring swaps."""
    by_model, by_app = _selector_map()
    keys = model_keys(model)
    for key in keys:
        if key in by_model:
            return by_model[key]
    for key in keys:
        app_label = key.partition(".")[0]
        if app_label in by_app:
            return by_app[app_label]
    return None


def route(model: type[models.Model]) -> str | None:
    """The alias this layer sends ``model`` to now, or ``None`` to let other routers decide."""
    local = _local_swaps.get()
    for layer in (local, _global_swaps):
        if layer:
            for key in model_keys(model):
                if key in layer:
                    return layer[key]
    return selected_alias(model)


def swap(model: type[models.Model], alias: str | None) -> None:
    """Send every query of ``model`` to ``alias`` from now on (``None`` undoes the swap)."""
    key = model._meta.label_lower
    if alias is None:
        _global_swaps.pop(key, None)
    else:
        _global_swaps[key] = str(check_alias(alias))
        install_router()


def global_swap(model: type[models.Model]) -> str | None:
    """The alias ``model`` is globally swapped to, if any."""
    return _global_swaps.get(model._meta.label_lower)


@contextmanager
def use_db(model: type[models.Model], alias: str) -> Iterator[ConnectionInfo]:
    """Send ``model``'s queries to ``alias`` inside the block, in this thread or asyncio task only.

    Implemented with a ``ContextVar``: other threads and concurrent tasks keep their own routing.
    """
    info = ConnectionInfo(check_alias(alias))
    install_router()
    token = _local_swaps.set(MappingProxyType({**_local_swaps.get(), model._meta.label_lower: str(info)}))
    try:
        yield info
    finally:
        _local_swaps.reset(token)


class MultiDBRouter:
    """The router pytest-multidb puts first in ``DATABASE_ROUTERS``.

    It answers only for swapped or ``MODELS``-selected models and returns ``None`` otherwise, so the
    project's own routers and Django's defaults keep working unchanged.
    """

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return route(model)

    db_for_write = db_for_read

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool | None:
        """Allow a relation between objects that each live where they are routed (across aliases too)."""
        # ``obj.__class__``, not ``type(obj)``: Django passes lazy wrappers (``request.user``) that proxy it.
        home1, home2 = route(obj1.__class__), route(obj2.__class__)
        if home1 is None or home2 is None:
            return None
        return (obj1._state.db in (None, home1) and obj2._state.db in (None, home2)) or None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        """Selected models migrate only on their alias; ``OTHER_DATABASES`` aliases hold nothing else."""
        model = hints.get("model") or _installed_model(app_label, model_name)
        home = selected_alias(model) if model is not None else _selector_map()[1].get(app_label)
        if home is not None:
            return db == home
        if db in (getattr(settings, "OTHER_DATABASES", None) or {}) and not _other_router_allows(
            self, db, app_label, model_name, **hints
        ):
            return False
        return None


def _installed_model(app_label: str, model_name: str | None) -> type[models.Model] | None:
    if model_name is None:
        return None
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        # A historical model that no longer exists: decide by its app label.
        return None


def _other_router_allows(own: MultiDBRouter, db: str, app_label: str, model_name: str | None, **hints: Any) -> bool:
    from django.db import router

    for other in router.routers:
        if other is own or not hasattr(other, "allow_migrate"):
            continue
        allowed = other.allow_migrate(db, app_label, model_name=model_name, **hints)
        if allowed is not None:
            return allowed
    return False


def install_router() -> None:
    """Put ``MultiDBRouter`` first in ``DATABASE_ROUTERS`` (once) and make Django re-read the list.

    Done when ``MODELS`` selects models, and by the first swap: a project that asks for no routing keeps its
    ``DATABASE_ROUTERS`` as it wrote it."""
    from django.db import router

    routers = list(getattr(settings, "DATABASE_ROUTERS", []))
    if ROUTER_PATH not in routers and not any(isinstance(r, MultiDBRouter) for r in routers):
        settings.DATABASE_ROUTERS = [ROUTER_PATH, *routers]
        router.__dict__.pop("routers", None)
        router._routers = None
