"""Pure descriptions of connectors and actions.

These are safe inside workflow code: stdlib and pydantic only. The gate looks actions up here to
validate arguments and apply policy before any I/O happens.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field

from retrofit.sdk.effect import Effect


class RetrySettings(BaseModel):
    """Retry behaviour of one action; Temporal performs the retries."""

    model_config = {"frozen": True}

    initial_interval: timedelta = timedelta(seconds=1)
    backoff: float = Field(default=2.0, ge=1.0)
    maximum_interval: timedelta = timedelta(seconds=30)
    # A bounded default: an unexpected bug in a connector should surface, not retry forever.
    maximum_attempts: int = Field(default=5, ge=1)


@dataclass(frozen=True)
class ActionSpec:
    """One action of one connector, as the framework sees it."""

    connector: str
    method: str
    effect: Effect
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    timeout: timedelta
    retry: RetrySettings
    compensate: str | None = None  # full name of the compensating action
    # The connector answers `lookup(idempotency_key)`: a lost answer can be reconciled.
    lookup: bool = False

    @property
    def name(self) -> str:
        """`<connector>.<action>`: the activity type Temporal shows for this action."""
        return f"{self.connector}.{self.method}"

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()


def models_allowing_extra(model: type[BaseModel]) -> list[str]:
    """The models in `model`'s tree (itself and every model its fields nest, through lists,
    optionals, unions and dicts) that do not forbid unknown fields: each of them would drop a
    misspelt field silently. Empty when the whole tree says `extra="forbid"`."""
    lax: list[str] = []
    seen: set[type[BaseModel]] = set()
    todo: list[Any] = [model]
    while todo:
        item = todo.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in seen:
                continue
            seen.add(item)
            if item.model_config.get("extra") != "forbid":
                lax.append(item.__qualname__)
            todo.extend(f.annotation for f in item.model_fields.values())
        else:
            # list[X], X | None, dict[str, X], Annotated[X, ...], Literal[...] (args are values).
            todo.extend(a for a in typing.get_args(item) if isinstance(a, type) or typing.get_args(a))
    return sorted(lax)


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    description: str
    plugin: str  # the entry point (or class path) it was loaded from
    actions: tuple[ActionSpec, ...] = field(default_factory=tuple)
