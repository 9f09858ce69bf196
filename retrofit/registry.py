"""Discovery of connector plugins and workflows through entry points.

Built-ins register the same way as third-party plugins (see pyproject.toml); nothing is special-cased.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from retrofit.sdk.connector import Connector, ConnectorSettingsError
from retrofit.sdk.describe import describe_connector
from retrofit.sdk.errors import PluginError
from retrofit.sdk.spec import ConnectorSpec

CONNECTOR_GROUP = "retrofit.connectors"
WORKFLOW_GROUP = "retrofit.workflows"


@dataclass(frozen=True)
class LoadedConnector:
    cls: type[Connector]
    spec: ConnectorSpec


def load_connectors(eps: Iterable[EntryPoint] | None = None) -> list[LoadedConnector]:
    """Load and check every connector plugin; a bad one stops the worker with its name."""
    found: list[tuple[str, object]] = []
    for ep in eps if eps is not None else entry_points(group=CONNECTOR_GROUP):
        plugin = f"{ep.name} = {ep.value}"
        try:
            found.append((plugin, ep.load()))
        except Exception as exc:
            raise PluginError(plugin, f"cannot be imported: {type(exc).__name__}: {exc}") from exc
    return describe_all(found)


def describe_all(found: Sequence[tuple[str, object]]) -> list[LoadedConnector]:
    loaded: list[LoadedConnector] = []
    seen: dict[str, str] = {}
    for plugin, cls in found:
        spec = describe_connector(cls, plugin=plugin)
        if spec.name in seen:
            raise PluginError(
                plugin, f"connector name {spec.name!r} is already taken by plugin {seen[spec.name]!r}"
            )
        seen[spec.name] = plugin
        loaded.append(LoadedConnector(cls=cls, spec=spec))  # type: ignore[arg-type]
    return loaded


def connectors_from_classes(classes: Sequence[type[Connector]]) -> list[LoadedConnector]:
    """For tests and embedding: the same checks, for classes given directly."""
    return describe_all([(f"{c.__module__}:{c.__qualname__}", c) for c in classes])


def misconfigured(connectors: Iterable[LoadedConnector]) -> dict[str, ConnectorSettingsError]:
    """The connectors whose settings do not load from the environment, each with its one line
    (`connector 'tryton' is misconfigured: RETROFIT_TRYTON_PASSWORD is required`)."""
    problems: dict[str, ConnectorSettingsError] = {}
    for item in connectors:
        try:
            item.cls.load_settings()
        except ConnectorSettingsError as exc:
            problems[item.spec.name] = exc
    return problems


def load_workflows(eps: Iterable[EntryPoint] | None = None) -> list[type]:
    workflows: list[type] = []
    for ep in eps if eps is not None else entry_points(group=WORKFLOW_GROUP):
        try:
            workflows.append(ep.load())
        except Exception as exc:
            raise PluginError(f"{ep.name} = {ep.value}", f"workflow cannot be imported: {exc}") from exc
    return workflows
