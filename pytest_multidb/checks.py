"""Django system checks of the multi-DB layer.

- ``multidb.W001``: a relation (foreign key, one-to-one, many-to-many) between models on different connections.
  Django cannot join across connections and the schema builder leaves the constraint out. A relation whose
  field sets ``db_constraint=False`` is taken as intended and not reported.
- ``multidb.W002``: a managed model references an unmanaged model (foreign key, one-to-one, many-to-many)
  that lives on an alias whose test database would lack its table: neither ``TEST["UNMANAGED"] = "create"``
  nor ``TEST["PROVISION"] = "existing"``. Its migration (or a query joining the table) fails in the tests.
- ``multidb.E001``: a bad ``OTHER_DATABASES`` entry (keys, engine, ``MODELS`` type, alias clash).
- ``multidb.E002``: the same ``MODELS`` selector under two aliases.
- ``multidb.E003``: a ``MODELS`` selector naming no installed app or model.

Every check is tagged ``multidb`` (``manage.py check --tag multidb``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from types import SimpleNamespace
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.db import models, router

from .conf import ConfigurationError, database_specs, model_selectors, other_database_specs
from .messages import settings as texts
from .routing import validate_selectors

TAG = "multidb"

def _label(model: type[models.Model]) -> str:
    return texts.SETTING_OF_ALIAS.format(setting=model._meta.label, alias=router.db_for_write(model))


def _crosses(table_model: type[models.Model], field: Any) -> bool:
    return getattr(field, "db_constraint", True) and (
        router.db_for_write(table_model) != router.db_for_write(field.related_model)
    )


def cross_connection_warnings(model_list: Iterable[type[models.Model]]) -> list[CheckMessage]:
    """``multidb.W001`` for every relation of ``model_list`` that points at a model on another connection."""
    warnings: list[CheckMessage] = []
    for model in model_list:
        for field in model._meta.local_fields:
            if field.is_relation and _crosses(model, field):
                warnings.append(CheckWarning(
                    texts.CROSS_CONNECTION_RELATION.format(model=_label(model), target=_label(field.related_model)),
                    hint=texts.CROSS_CONNECTION_HINT, obj=field, id="multidb.W001",
                ))
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if through._meta.auto_created and any(_crosses(through, f) for f in through._meta.local_fields
                                                  if f.is_relation):
                warnings.append(CheckWarning(
                    texts.CROSS_CONNECTION_MANY_TO_MANY.format(
                        model=_label(model), target=_label(field.related_model), table=through._meta.db_table,
                        alias=router.db_for_write(through)),
                    hint=texts.CROSS_CONNECTION_HINT, obj=field, id="multidb.W001",
                ))
    return warnings


def _targets(model: type[models.Model]) -> list[tuple[Any, type[models.Model]]]:
    """``(field, related model)`` for every relation of ``model`` (foreign keys, one-to-ones, many-to-manys)."""
    fields = [*(f for f in model._meta.local_fields if f.is_relation), *model._meta.local_many_to_many]
    return [(field, field.related_model) for field in fields if isinstance(field.related_model, type)]


def _has_table(test: dict[str, Any]) -> bool:
    return test.get("UNMANAGED") == "create" or test.get("PROVISION") == "existing"


def unmanaged_reference_warnings(model_list: Iterable[type[models.Model]]) -> list[CheckMessage]:
    """``multidb.W002`` for every relation of a managed model in ``model_list`` to an unmanaged model whose
    alias's test database would lack the table."""
    tests = {alias: dict(spec.test) for alias, spec in database_specs().items()}
    warnings: list[CheckMessage] = []
    for model in model_list:
        if not model._meta.managed or model._meta.proxy:
            continue
        for field, target in _targets(model):
            if target._meta.managed or target._meta.proxy:
                continue
            alias = router.db_for_write(target)
            if _has_table(tests.get(alias, {})):
                continue
            warnings.append(CheckWarning(
                texts.UNMANAGED_REFERENCE.format(model=_label(model), target=target._meta.label,
                                                 table=target._meta.db_table, alias=alias),
                hint=texts.UNMANAGED_REFERENCE_HINT, obj=field, id="multidb.W002",
            ))
    return warnings


def _models_of(app_configs: Sequence[AppConfig] | None) -> Iterable[Any]:
    """The models of ``app_configs``, or of every installed app when ``None``."""
    if app_configs is None:
        return apps.get_models()
    return chain.from_iterable(app_config.get_models() for app_config in app_configs)


@register(Tags.models, TAG)
def check_unmanaged_references(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``multidb.W002`` for the models of ``app_configs`` (all installed apps when ``None``)."""
    try:
        return unmanaged_reference_warnings(_models_of(app_configs))
    except ConfigurationError:
        return []  # Bad settings: check_multidb_settings reports why.


@register(Tags.models, TAG)
def check_cross_connection_relations(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``multidb.W001`` for the models of ``app_configs`` (all installed apps when ``None``)."""
    try:
        return cross_connection_warnings(_models_of(app_configs))
    except ConfigurationError:
        return []  # Bad MODELS: routing cannot be decided; check_multidb_settings reports why.


def _error(error: ConfigurationError, check_id: str) -> Error:
    """The ConfigurationError as a check Error: its setting is the object, its fix the hint."""
    where = error.setting if error.alias is None else texts.SETTING_OF_ALIAS.format(setting=error.setting,
                                                                                    alias=error.alias)
    return Error(texts.CHECK_ERROR.format(problem=error.problem), hint=texts.CHECK_ERROR_HINT.format(fix=error.fix),
                 obj=where, id=check_id)


@register(TAG)
def check_multidb_settings(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``multidb.E001``-``E003``: the validation of ``conf`` and ``routing``, one Error per ConfigurationError.

    Entries are validated one alias at a time (every bad entry is reported); the ``MODELS`` checks run once
    the entries are valid, since they read every entry again.
    """
    errors: list[CheckMessage] = []
    for alias, entry in (getattr(settings, "OTHER_DATABASES", None) or {}).items():
        try:
            other_database_specs(SimpleNamespace(OTHER_DATABASES={alias: entry}, DATABASES=settings.DATABASES))
        except ConfigurationError as error:
            errors.append(_error(error, "multidb.E001"))
    if errors:
        return errors
    for validate, check_id in ((lambda: model_selectors(settings), "multidb.E002"),
                               (validate_selectors, "multidb.E003")):
        try:
            validate()
        except ConfigurationError as error:
            return [_error(error, check_id)]
    return []
