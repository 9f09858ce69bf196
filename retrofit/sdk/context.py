"""What a running action knows about the call it serves (idempotency key, step, attempt)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

_current: ContextVar[ActionContext] = ContextVar("retrofit_action_context")


@dataclass(frozen=True)
class ActionContext:
    action: str
    idempotency_key: str  # stable across retries and replays: pass it to the legacy system
    workflow_id: str
    run_id: str
    step: int
    attempt: int


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
