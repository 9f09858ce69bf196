"""Function-tool schemas from action specs: pure, so workflows can offer tools to a model.

OpenAI tool names must match `^[a-zA-Z0-9_-]{1,64}$`; an action is `<connector>.<method>`, so the
dot becomes `__` (`ledger.get_customer` -> `ledger__get_customer`) and `action_name` reverses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from retrofit.llm.contracts import ToolSpec
from retrofit.sdk.spec import ActionSpec

_SEPARATOR = "__"
_SAFE_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def tool_name(action: str) -> str:
    """The OpenAI-safe tool name of the action called `action` (`<connector>.<method>`)."""
    connector, dot, method = action.partition(".")
    if not dot or _SEPARATOR in connector or "." in method:
        raise ValueError(f"cannot name a tool after action {action!r}: want '<connector>.<method>'")
    name = f"{connector}{_SEPARATOR}{method}"
    if not _SAFE_NAME.fullmatch(name):
        raise ValueError(f"tool name {name!r} (action {action!r}) is not a valid OpenAI function name")
    return name


def action_name(tool: str) -> str:
    """The action a tool name stands for: the inverse of `tool_name`."""
    connector, sep, method = tool.partition(_SEPARATOR)
    if not sep or not connector or not method:
        raise ValueError(f"{tool!r} is not a Retrofit tool name ('<connector>__<method>')")
    return f"{connector}.{method}"


def tool_spec(spec: ActionSpec) -> ToolSpec:
    """The function tool for one action: its input model's JSON schema and its description."""
    parameters: dict[str, Any] = dict(spec.input_schema())
    # The model class name ("GetCustomer") says nothing the tool name does not; keep the rest.
    parameters.pop("title", None)
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    return ToolSpec(name=tool_name(spec.name), description=spec.description, parameters=parameters)


def tool_specs(specs: Iterable[ActionSpec]) -> list[ToolSpec]:
    """Tools for several actions; two actions that would share a tool name are an error."""
    tools = [tool_spec(spec) for spec in specs]
    names = [tool.name for tool in tools]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"actions collide on tool names: {duplicates}")
    return tools
