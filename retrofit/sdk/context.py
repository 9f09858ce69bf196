"""What a running action knows about the call it serves (idempotency key, step, attempt)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

_current: ContextVar[ActionContext] = ContextVar("retrofit_action_context")


@dataclass(frozen=True)
class ActionContext:
    action: str
    idempotency_key: str  # stable across retries and replays: pass it to the legacy system
    workflow_id: str
    run_id: str
    step: int
    attempt: int
    # Wire-level exchanges the connector bases captured (already redacted), for the audit trail.
    exchanges: list[dict[str, Any]] = field(default_factory=list)


def current_call() -> ActionContext:
    """The call being executed; only valid inside an action."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("current_call() is only available while an action runs") from None


def bind_call(context: ActionContext) -> object:
    """Bind the context for the running action; returns the token to reset it with."""
    return _current.set(context)


def unbind_call(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


@contextmanager
def running_call(
    action: str,
    idempotency_key: str,
    *,
    workflow_id: str = "direct-call",
    run_id: str = "direct-call",
    step: int = 1,
    attempt: int = 1,
) -> Iterator[ActionContext]:
    """Run connector code as the worker does around an action: `current_call()` answers and
    `capture_exchange` collects into the yielded context. For the framework and for tests that
    call a connector's methods directly."""
    context = ActionContext(
        action=action,
        idempotency_key=idempotency_key,
        workflow_id=workflow_id,
        run_id=run_id,
        step=step,
        attempt=attempt,
    )
    token = bind_call(context)
    try:
        yield context
    finally:
        unbind_call(token)


MAX_EXCHANGES = 20


def capture_exchange(exchange: dict[str, Any]) -> None:
    """Attach one redacted request/response summary to the running call's audit record.

    Connector bases (REST, SOAP, SQL) call this; outside an action it does nothing. Callers must
    redact first: whatever is passed here is stored in the audit trail.
    """
    try:
        context = _current.get()
    except LookupError:
        return
    if len(context.exchanges) < MAX_EXCHANGES:
        context.exchanges.append(exchange)
