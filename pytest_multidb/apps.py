"""The AppConfig: ``INSTALLED_APPS += ["pytest_multidb"]`` wires the multi-DB layer into Django."""

from django.apps import AppConfig


def wire_layer() -> None:
    """Merge ``OTHER_DATABASES``, put the router first, give managers ``.db``, check ``MODELS``. Idempotent."""
    from .conf import merge_other_databases
    from .managers import install_manager_db
    from .routing import install_router, validate_selectors

    merge_other_databases()
    install_router()
    install_manager_db()
    validate_selectors()


class MultiDBConfig(AppConfig):
    name = "pytest_multidb"
    label = "multidb"
    verbose_name = "pytest-multidb"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

        wire_layer()
