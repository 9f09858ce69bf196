"""The `@action` decorator integrators put on connector methods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from retrofit.sdk.effect import Effect
from retrofit.sdk.spec import RetrySettings

ACTION_MARKER = "__retrofit_action__"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class ActionInput(BaseModel):
    """Base of an action's input model: unknown fields are refused, not dropped.

    Pydantic's default ignores a field it does not know, so a misspelt `emial` would reach the
    approver and the system as `email: None`. The catalog refuses an input model (or a model
    nested in it) that does not forbid extra fields, unless its action says `allow_extra=True`;
    deriving from this class (or setting `model_config = ConfigDict(extra="forbid")`) complies.
    """

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ActionOptions:
    effect: Effect
    compensate: str | None
    timeout: timedelta
    retry: RetrySettings
    # The input model's own `extra` setting governs: the catalog does not require "forbid".
    allow_extra: bool = False


def action(
    effect: Effect,
    *,
    compensate: str | None = None,
    timeout: timedelta = timedelta(seconds=30),
    retry: RetrySettings | None = None,
    allow_extra: bool = False,
) -> Callable[[F], F]:
    """Declare a connector method as an action.

    The method must be `async def name(self, req: InModel) -> OutModel` with pydantic models; its
    docstring is the description the LLM and the CLI show. `compensate` names another action of the
    same connector that undoes this one. `timeout` is the start-to-close timeout of one attempt.
    The input model must refuse unknown fields (derive it from `ActionInput`); `allow_extra=True`
    opts out, for an action that takes free-form input on purpose.
    """

    if not isinstance(effect, Effect):
        raise TypeError(f"@action needs an Effect, got {effect!r}")
    options = ActionOptions(
        effect=effect,
        compensate=compensate,
        timeout=timeout,
        retry=retry or RetrySettings(),
        allow_extra=allow_extra,
    )

    def mark(method: F) -> F:
        setattr(method, ACTION_MARKER, options)
        return method

    return mark
