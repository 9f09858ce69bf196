"""Turn a connector class into a `ConnectorSpec`, refusing malformed plugins with a clear reason."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing

from pydantic import BaseModel

from retrofit.sdk.action import ACTION_MARKER, ActionOptions
from retrofit.sdk.connector import Connector, ConnectorSettings
from retrofit.sdk.errors import PluginError
from retrofit.sdk.spec import ActionSpec, ConnectorSpec, models_allowing_extra

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def describe_connector(cls: object, *, plugin: str) -> ConnectorSpec:
    if not (inspect.isclass(cls) and issubclass(cls, Connector)):
        raise PluginError(plugin, f"{cls!r} is not a subclass of retrofit.Connector")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise PluginError(plugin, f"class attribute `name` must be a lowercase identifier, got {name!r}")
    if not (inspect.isclass(cls.Settings) and issubclass(cls.Settings, ConnectorSettings)):
        raise PluginError(plugin, "`Settings` must subclass retrofit.ConnectorSettings")

    actions: list[ActionSpec] = []
    for attr, member in inspect.getmembers(cls, inspect.isfunction):
        options = getattr(member, ACTION_MARKER, None)
        if options is None:
            continue
        action_spec = _describe_action(name, attr, member, options, plugin=plugin)
        actions.append(dataclasses.replace(action_spec, lookup=cls.supports_lookup()))
    if not actions:
        raise PluginError(plugin, f"connector {name!r} declares no @action methods")

    methods = {a.method for a in actions}
    for spec in actions:
        if spec.compensate is not None and spec.compensate.split(".")[-1] not in methods:
            raise PluginError(
                plugin,
                f"action {spec.name!r} names compensate={spec.compensate!r}, "
                f"which is not an action of {name!r}",
            )
    description = inspect.getdoc(cls) or ""
    return ConnectorSpec(name=name, description=description, plugin=plugin, actions=tuple(actions))


def _describe_action(
    connector: str, attr: str, fn: typing.Any, options: ActionOptions, *, plugin: str
) -> ActionSpec:
    where = f"action {connector}.{attr}"
    if not inspect.iscoroutinefunction(fn):
        raise PluginError(plugin, f"{where} must be `async def`")
    params = list(inspect.signature(fn).parameters.values())
    if len(params) != 2 or params[0].name != "self":
        raise PluginError(
            plugin,
            f"{where} must take exactly (self, req: InputModel); got ({', '.join(p.name for p in params)})",
        )
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:  # an unresolvable annotation is a plugin bug worth naming
        raise PluginError(plugin, f"{where}: cannot resolve its type hints ({exc})") from exc
    input_model = hints.get(params[1].name)
    output_model = hints.get("return")
    if not _is_model(input_model):
        raise PluginError(
            plugin, f"{where}: the argument must be annotated with a pydantic model, got {input_model!r}"
        )
    if not _is_model(output_model):
        raise PluginError(
            plugin, f"{where}: the return must be annotated with a pydantic model, got {output_model!r}"
        )
    lax = [] if options.allow_extra else models_allowing_extra(typing.cast(type[BaseModel], input_model))
    if lax:
        raise PluginError(
            plugin,
            f"{where}: input model {', '.join(lax)} would drop unknown (misspelt) fields silently: "
            "derive it from retrofit.ActionInput (extra='forbid'), or declare "
            "@action(..., allow_extra=True) to accept them on purpose",
        )
    description = inspect.getdoc(fn)
    if not description:
        raise PluginError(plugin, f"{where} needs a docstring: it is the description users and models see")
    compensate = options.compensate
    if compensate is not None and "." not in compensate:
        compensate = f"{connector}.{compensate}"
    return ActionSpec(
        connector=connector,
        method=attr,
        effect=options.effect,
        description=description,
        input_model=typing.cast(type[BaseModel], input_model),
        output_model=typing.cast(type[BaseModel], output_model),
        timeout=options.timeout,
        retry=options.retry,
        compensate=compensate,
    )


def _is_model(obj: object) -> bool:
    return inspect.isclass(obj) and issubclass(obj, BaseModel)
