"""``existing``: the alias stays pointed at its configured database, read-only in tests.

Nothing is made, so nothing is recorded or removed: no test database, no schema (no migrations, no cache), no
emptying. Every connection of the alias is read-only from the moment it opens (``readonly.enforce``), every
test's transaction on it is opened READ ONLY and rolled back.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from .. import readonly
from ..conf import DatabaseSpec
from .base import EXISTING, ProvisionContext, Provisioned, ProvisionError, register

KIND = EXISTING


@register
class ExistingProvisioner:
    """The configured database itself; made read-only, never created, migrated, emptied or dropped."""

    kind: ClassVar[str] = KIND

    def provision(self, spec: DatabaseSpec, context: ProvisionContext) -> Provisioned:
        name = str(spec.settings.get("NAME") or "")
        if spec.vendor == "sqlite" and (not name or name == ":memory:" or name.startswith("file:")
                                        or not Path(name).is_file()):
            # sqlite would create a missing file: refuse instead of making a database that is not "existing".
            raise ProvisionError(spec.alias, f"NAME with TEST['PROVISION'] = {KIND!r}",
                                 f"no sqlite database file {name!r}",
                                 "point NAME at the existing database file, or choose another TEST['PROVISION']")
        readonly.enforce(spec.alias)
        return Provisioned(spec.alias, self.kind, dict(spec.settings), lambda: readonly.release(spec.alias),
                           details={"read_only": True})
