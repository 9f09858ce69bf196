"""The `@action` decorator integrators put on connector methods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from retrofit.sdk.effect import Effect
from retrofit.sdk.spec import RetrySettings

ACTION_MARKER = "__retrofit_action__"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class ActionOptions:
    effect: Effect
    compensate: str | None
    timeout: timedelta
    retry: RetrySettings


def action(
    effect: Effect,
    *,
    compensate: str | None = None,
    timeout: timedelta = timedelta(seconds=30),
    retry: RetrySettings | None = None,
) -> Callable[[F], F]:
    """Declare a connector method as an action.

    The method must be `async def name(self, req: InModel) -> OutModel` with pydantic models; its
    docstring is the description the LLM and the CLI show. `compensate` names another action of the
    same connector that undoes this one. `timeout` is the start-to-close timeout of one attempt.
    """

    if not isinstance(effect, Effect):
        raise TypeError(f"@action needs an Effect, got {effect!r}")
    options = ActionOptions(
        effect=effect,
        compensate=compensate,
        timeout=timeout,
        retry=retry or RetrySettings(),
    )

    def mark(method: F) -> F:
        setattr(method, ACTION_MARKER, options)
        return method

    return mark
