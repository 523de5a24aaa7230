"""The AppConfig: ``INSTALLED_APPS += ["pytest_multidb"]`` wires the multi-DB layer into Django."""

from types import ModuleType

from django.apps import AppConfig


def wire_layer() -> None:
    """Check the settings, merge ``OTHER_DATABASES``, put the router first when ``MODELS`` asks for routing,
    give managers ``.db``, check ``MODELS``. Idempotent.

    Without ``MODELS`` selectors ``DATABASE_ROUTERS`` stays the project's own (Django code branches on it being
    empty, e.g. ``makemigrations``' history checks); the router is then installed by the first swap.
    """
    from .conf import merge_other_databases, model_selectors, validate_settings
    from .managers import install_manager_db
    from .routing import install_router, validate_selectors

    validate_settings()
    merge_other_databases()
    if model_selectors():
        install_router()
    install_manager_db()
    validate_selectors()


class MultiDBConfig(AppConfig):
    name = "pytest_multidb"
    label = "multidb"
    verbose_name = "pytest-multidb"

    def __init__(self, app_name: str, app_module: ModuleType | None) -> None:
        # Django creates every AppConfig before importing any model, and importing models is where a bad
        # DATABASES entry first crashes: check the settings here, for one clear error instead.
        from .conf import ConfigurationError, validate_settings

        try:
            validate_settings()
        except ConfigurationError as error:
            if not reported_by_checks(error):
                raise
        super().__init__(app_name, app_module)

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .conf import ConfigurationError

        try:
            wire_layer()
        except ConfigurationError as error:
            if not reported_by_checks(error):
                raise


def reported_by_checks(error: Exception) -> bool:
    """A ``MODELS`` mistake crashes nothing in Django: ``manage.py check`` reports it (``multidb.E001``-``E003``)
    and the pytest plugin stops with it in one line; other mistakes are raised while Django sets up."""
    return "['MODELS']" in getattr(error, "setting", "")
