"""Fault injection shared by the demo systems: latency, dropped connections, the plan's request body.

Each system decides for itself which requests a fault plan may hit and what an injected failure
looks like (a JSON error, a SOAP fault, a bare status); the mechanics below are the same for all:

- `delay_or_drop`     — apply a planned fault's latency, then its drop (after processing, if asked).
- `ConnectionDropped` — what a drop raises; the servers keep exactly this type out of uvicorn's log.
- `FaultPlanRequest`  — the fields every `POST /_admin/faults` accepts, with their bounds.
- `problems_of`       — a validation error as the one-line message the control planes answer.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ConnectionDropped(Exception):
    """Raised on purpose after a response has started, so uvicorn cuts the connection mid-answer.

    The servers' log filter hides exactly this type: it is a requested fault, not a crash.
    """


class PlannedDrop(Protocol):
    """The part of a planned fault that `delay_or_drop` applies."""

    @property
    def latency_ms(self) -> int: ...
    @property
    def drop(self) -> bool: ...
    @property
    def drop_after_apply(self) -> bool: ...


async def delay_or_drop(
    fault: PlannedDrop,
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    content_type: str = "application/json",
) -> None:
    """Wait out `fault.latency_ms`; on a drop, raise `ConnectionDropped` with the answer cut off.

    With `drop_after_apply` the request is processed first: its effect lands, its answer is lost.
    """
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if not fault.drop:
        return
    if fault.drop_after_apply:
        await app(scope, receive, _lose_response)
    # ASGI gives an app no way to close its socket. uvicorn answers 500 to an app that fails before
    # starting a response, but closes the connection on one that fails after: so promise a body
    # (Content-Length) and fail. The client sees the connection end early, a transport error.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type.encode()), (b"content-length", b"128")],
        }
    )
    raise ConnectionDropped("fault plan: drop this connection")


async def _lose_response(message: Message) -> None:
    """A `send` that swallows the answer of a request that was processed."""


class FaultPlanRequest(BaseModel):
    """Body of `POST /_admin/faults`; it replaces the plan, absent fields take their defaults.

    Systems with more kinds of fault subclass it and add their fields.
    """

    # Unknown fields are refused so that a typo in a test ("fail_nxt") cannot pass silently.
    model_config = ConfigDict(extra="forbid")

    fail_next: int = Field(default=0, ge=0)
    status: int = Field(default=503, ge=400, le=599)
    retry_after: int | None = Field(default=None, ge=0)
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    drop_next: int = Field(default=0, ge=0)
    drop_after_apply: bool = False


def problems_of(exc: ValidationError) -> str:
    """`field: message; ...` for an admin body that did not validate (`body` for the whole of it)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
