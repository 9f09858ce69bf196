"""Fault injection for the demo CRM: the failures a connector must survive, on demand.

`POST /_admin/faults` replaces the plan; the next requests meet it in this order: a drop (the
connection ends mid-response), else an injected error status (with `Retry-After` if asked), and
any `latency_ms` before either. `path_prefix` narrows the plan to matching paths, so a test can
fail `/accounts` while the token endpoint keeps working. The control plane is never faulted.
Latency and drops are applied by `legacy.faults`, which the other demo systems share.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from legacy.faults import delay_or_drop


@dataclass
class FaultPlan:
    fail_next: int = 0  # the next N requests answer `status` without being processed
    status: int = 503
    retry_after: int | None = None  # seconds, sent as `Retry-After` with the injected status
    latency_ms: int = 0  # added to every matching request until the plan changes
    drop_next: int = 0  # the next N requests lose their connection before a complete answer
    drop_after_apply: bool = False  # the request is processed first: the effect lands, the answer is lost
    path_prefix: str | None = None  # only requests whose path starts with this meet the plan

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlannedFault:
    """What the plan does to one request."""

    latency_ms: int = 0
    drop: bool = False
    drop_after_apply: bool = False
    fail_status: int | None = None
    retry_after: int | None = None


class FaultSwitch:
    """The current plan, consumed one request at a time; thread-safe (tests set it from outside)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan()

    @property
    def plan(self) -> FaultPlan:
        with self._lock:
            return replace(self._plan)

    def set(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = replace(plan)

    def next_fault(self, path: str) -> PlannedFault:
        with self._lock:
            plan = self._plan
            if plan.path_prefix is not None and not path.startswith(plan.path_prefix):
                return PlannedFault()
            if plan.drop_next > 0:
                plan.drop_next -= 1
                return PlannedFault(plan.latency_ms, drop=True, drop_after_apply=plan.drop_after_apply)
            if plan.fail_next > 0:
                plan.fail_next -= 1
                return PlannedFault(plan.latency_ms, fail_status=plan.status, retry_after=plan.retry_after)
            return PlannedFault(plan.latency_ms)


class FaultInjection:
    """ASGI middleware applying a `FaultSwitch` to every request outside `/_admin/`."""

    def __init__(self, app: ASGIApp, switch: FaultSwitch) -> None:
        self._app = app
        self._switch = switch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith("/_admin/"):
            await self._app(scope, receive, send)
            return
        fault = self._switch.next_fault(path)
        await delay_or_drop(fault, self._app, scope, receive, send)
        if fault.fail_status is not None:
            headers = None if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            phrase = HTTPStatus(fault.fail_status).phrase
            body = {"error": phrase.lower().replace(" ", "_"), "message": f"injected fault: {phrase}"}
            await JSONResponse(body, status_code=fault.fail_status, headers=headers)(scope, receive, send)
            return
        await self._app(scope, receive, send)
