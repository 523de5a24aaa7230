"""factory_boy integration: factories that write where the model lives.

``ModelFactory`` writes to the model's *current* connection (``MODELS``, routers and swaps included) unless
the factory's ``Meta.database`` names one, or the call does: ``WidgetFactory(_using="a")``. A SubFactory
follows its own model's connection. factory_boy itself has no per-call choice of database.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from .messages import layer as texts

try:
    from factory.django import DjangoModelFactory
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(texts.FACTORY_BOY_MISSING) from error

#: (model class, alias) chosen by the ``_using=`` of the factory call being generated.
_call_database: ContextVar[tuple[type, str] | None] = ContextVar("multidb_factory_using", default=None)


class ModelFactory(DjangoModelFactory):
    """A ``DjangoModelFactory`` that writes to the model's current connection.

    Order of choice: ``_using=`` of the call > ``Meta.database`` > the model's routing (``Model.objects.db``).
    """

    class Meta:
        abstract = True
        database = None  # factory_boy's default is 'default'; None means "where the model lives"

    @classmethod
    def _generate(cls, strategy: str, params: dict[str, Any]) -> Any:
        using = params.pop("_using", None)
        if using is None:
            return super()._generate(strategy, params)
        token = _call_database.set((cls._meta.model, str(using)))
        try:
            return super()._generate(strategy, params)
        finally:
            _call_database.reset(token)

    @classmethod
    def _get_manager(cls, model_class: type) -> Any:
        manager = model_class._default_manager
        chosen = _call_database.get()
        using = chosen[1] if chosen and chosen[0] is model_class else cls._meta.database
        return manager.db_manager(using) if using else manager

    @classmethod
    def _after_postgeneration(cls, instance: Any, create: bool, results: dict[str, Any] | None = None) -> None:
        """Save again after post-generation hooks, on the database the instance was created in."""
        if create and results and not cls._meta.skip_postgeneration_save:
            instance.save(using=instance._state.db)
