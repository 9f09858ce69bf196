"""The tamper-evident audit trail.

Workflow code imports `retrofit.audit.events`, which runs this module first — and workflow code must
not pull in SQLAlchemy. So the models (and `export`, which needs no database library) are imported
here; `AuditStore` and `normalize_url` load on first access through `__getattr__`.

`export` cannot be lazy: importing the submodule `retrofit.audit.export` binds the *module* to this
package's `export` attribute, and a lazy `__getattr__` would never run again to replace it with the
function. Importing it here binds the function last.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from retrofit.audit.events import (
    Actor,
    ActorKind,
    AuditEvent,
    AuditKind,
    AuditRecord,
    ChainBreak,
    VerifyReport,
)
from retrofit.audit.export import export

if TYPE_CHECKING:
    from retrofit.audit.store import AuditStore
    from retrofit.audit.url import normalize_url

_LAZY = {
    "AuditStore": "retrofit.audit.store",
    "normalize_url": "retrofit.audit.url",
}

__all__ = [
    "Actor",
    "ActorKind",
    "AuditEvent",
    "AuditKind",
    "AuditRecord",
    "AuditStore",
    "ChainBreak",
    "VerifyReport",
    "export",
    "normalize_url",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
