"""``sqlite``: a fresh database file under pytest's temp dir (never the configured NAME)."""

from __future__ import annotations

from typing import ClassVar

from ..conf import DatabaseSpec
from .base import ProvisionContext, Provisioned, register


@register
class SqliteProvisioner:
    """A temp sqlite file per alias; removed with pytest's temp dir."""

    kind: ClassVar[str] = "sqlite"

    def provision(self, spec: DatabaseSpec, context: ProvisionContext) -> Provisioned:
        path = context.tmp_dir / f"{spec.alias}.sqlite3"
        path.unlink(missing_ok=True)

        def cleanup() -> None:
            path.unlink(missing_ok=True)

        return Provisioned(spec.alias, self.kind, {**spec.settings, "NAME": str(path)}, cleanup)
