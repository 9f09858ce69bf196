"""Pure descriptions of connectors and actions.

These are safe inside workflow code: stdlib and pydantic only. The gate looks actions up here to
validate arguments and apply policy before any I/O happens.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    description: str
    plugin: str  # the entry point (or class path) it was loaded from
    actions: tuple[ActionSpec, ...] = field(default_factory=tuple)
