"""Catalog actions as MCP tools: name, input schema, description and annotations.

The tool name shows the connector and the action (`ledger__get_customer`: MCP tool names may
not contain the dot of `ledger.get_customer` in every client). Annotations come from the
effect, which the integrator declared and the gate's policy is keyed on; they are hints for
the client and never replace the gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mcp_types as types

from retrofit.sdk.effect import Effect
from retrofit.sdk.spec import ActionSpec

SEPARATOR = "__"


def tool_name(spec: ActionSpec) -> str:
    return f"{spec.connector}{SEPARATOR}{spec.method}"


def tool_annotations(effect: Effect) -> types.ToolAnnotations:
    if effect is Effect.READ:
        return types.ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)
    # Every call is its own workflow with its own idempotency key: a repeated call is a second write.
    return types.ToolAnnotations(
        read_only_hint=False, destructive_hint=effect is Effect.DESTRUCTIVE, idempotent_hint=False
    )


def description(spec: ActionSpec) -> str:
    gate = {
        Effect.READ: "Read-only.",
        Effect.WRITE: "Changes data: the call waits while the operator's policy asks a person to approve it.",
        Effect.DESTRUCTIVE: ("DESTRUCTIVE (irreversible): the call waits for two people to approve it."),
    }[spec.effect]
    return (
        f"{spec.description.strip()}\n\n{gate} Runs as {spec.name} through Retrofit's gate "
        "(policy, approval, audit)."
    )


def as_tool(spec: ActionSpec) -> types.Tool:
    return types.Tool(
        name=tool_name(spec),
        title=spec.name,
        description=description(spec),
        input_schema=spec.input_schema(),
        annotations=tool_annotations(spec.effect),
    )


@dataclass(frozen=True)
class ServedTools:
    """The served actions, by tool name."""

    by_name: dict[str, ActionSpec]

    @classmethod
    def of(cls, specs: Sequence[ActionSpec]) -> ServedTools:
        by_name: dict[str, ActionSpec] = {}
        for spec in specs:
            name = tool_name(spec)
            if name in by_name:  # `a__b.c` and `a.b__c` would collide: refuse, never shadow
                raise ValueError(f"tool name {name!r} is taken by {by_name[name].name} and {spec.name}")
            by_name[name] = spec
        return cls(by_name)

    def tools(self) -> list[types.Tool]:
        return [as_tool(spec) for spec in self.by_name.values()]
