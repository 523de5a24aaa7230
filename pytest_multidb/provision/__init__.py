"""Ways to get a disposable database for an alias: one module per kind, registered in ``PROVISIONERS``."""

from . import container, existing, process, server, sqlite  # noqa: F401  (each registers its kind and its records)
from .base import PROVISIONERS, Provisioned, Provisioner, ProvisionError, select_kind

__all__ = ["PROVISIONERS", "ProvisionError", "Provisioned", "Provisioner", "select_kind"]
