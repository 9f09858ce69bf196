"""What every demo system's control plane (`/_admin/`) shares: health, reset, effect counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Generic, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class Resettable(Protocol):
    def reset(self) -> None: ...


StateT = TypeVar("StateT", bound=Resettable)


class AdminApi(Generic[StateT]):
    """Base of each system's admin endpoints; subclasses add faults and effects for their state."""

    def __init__(self, state: StateT) -> None:
        self._state = state

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def reset(self, request: Request) -> Response:
        self._state.reset()
        return JSONResponse({"status": "reset"})


def effects_by_kind(
    effects: Mapping[tuple[str, str], int], kinds: Iterable[str]
) -> dict[str, dict[str, int]]:
    """Applied-write counts keyed (kind, record id), regrouped per kind; every kind present."""
    by_kind: dict[str, dict[str, int]] = {kind: {} for kind in kinds}
    for (kind, record_id), count in sorted(effects.items()):
        by_kind[kind][record_id] = count
    return by_kind
