"""Wire a Temporal worker with every discovered connector and workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from retrofit.audit.checkpointing import checkpoint_plugin
from retrofit.codec.converter import data_converter
from retrofit.execution.circuit_breaker import BreakerConfig
from retrofit.gate.policy import Policy
from retrofit.identity.keys import identity_pin
from retrofit.llm.settings import LlmSettings
from retrofit.observability.metrics import telemetry_runtime
from retrofit.observability.tracing import client_interceptors
from retrofit.plugin import RetrofitPlugin
from retrofit.policy_file import load_policy_file
from retrofit.registry import LoadedConnector, load_connectors, load_workflows
from retrofit.sdk.connector import ConnectorSettings
from retrofit.settings import RetrofitSettings
from retrofit.task_queues import check_groups, queue_for, settings_groups


async def connect(
    settings: RetrofitSettings,
    *,
    wait: float = 0.0,
    identity: str | None = None,
    serve_metrics: bool = False,
) -> Client:
    """A client with Retrofit's data converter (encrypting when codec keys are set) and tracing
    interceptor; retries for `wait` seconds while the server starts. `serve_metrics` (worker
    processes only): its runtime serves Prometheus on RETROFIT_METRICS_PORT; a CLI command never
    binds that port, so exporting the variable for a worker leaves every command working.
    Raises CodecConfigError on unusable codec keys."""
    converter = data_converter(settings)
    runtime = telemetry_runtime(settings) if serve_metrics else None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=converter,
                identity=identity,
                # Client and worker interceptor: workers built on this client trace too.
                interceptors=client_interceptors(settings),
                runtime=runtime,
            )
        except RuntimeError:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.25)


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker serves, loaded and checked before anything connects."""

    connectors: Sequence[LoadedConnector]
    workflows: Sequence[type]
    policy: Policy | None


def configured_connectors(settings: RetrofitSettings) -> list[LoadedConnector]:
    """The entry-point plugins plus the operator's locked MCP servers (`RETROFIT_MCP_SERVERS_FILE`):
    what a worker runs, so what `connectors list` and `mcp serve` show (raises PluginError)."""
    connectors = load_connectors()
    if settings.mcp_servers_file is None:
        return connectors
    # Imported only when configured: the MCP client stack is not every worker's business.
    from retrofit.mcp.consuming.loading import with_mcp_connectors

    return with_mcp_connectors(connectors, settings.mcp_servers_file)


def load_worker_config(settings: RetrofitSettings) -> WorkerConfig:
    """Plugins, workflows and the policy file: a bad one stops the worker here, by name, before
    it dials Temporal (raises PluginError or PolicyFileError)."""
    return WorkerConfig(
        connectors=configured_connectors(settings),
        workflows=load_workflows(),
        policy=load_policy_file(settings.policy_file) if settings.policy_file is not None else None,
    )


def build_worker(
    client: Client,
    settings: RetrofitSettings,
    *,
    config: WorkerConfig | None = None,
    task_queue: str | None = None,
    settings_overrides: Mapping[str, ConnectorSettings] | None = None,
    llm_settings: LlmSettings | None = None,
    serve_connectors: Collection[str] | None = None,
) -> Worker:
    """The worker for `task_queue` (default RETROFIT_TASK_QUEUE).

    Default: workflows plus the actions of every connector routed to this queue
    (RETROFIT_TASK_QUEUE_GROUPS sends the others elsewhere). With `serve_connectors`: those
    connectors' action activities only — a connector-group worker, no workflows.
    """
    config = config or load_worker_config(settings)
    queue = task_queue or settings.task_queue
    groups = settings_groups(settings)
    check_groups(groups, [c.spec.name for c in config.connectors])
    serve = (
        list(serve_connectors)
        if serve_connectors is not None
        else [c.spec.name for c in config.connectors if queue_for(c.spec.name, groups, queue) == queue]
    )
    plugin = RetrofitPlugin(
        connectors=config.connectors,
        workflows=config.workflows if serve_connectors is None else (),
        task_queues=groups,
        serve_connectors=serve,
        audit_url=settings.audit_db_url,
        policy=config.policy,
        settings_overrides=settings_overrides,
        llm_settings=llm_settings,
        breaker_defaults=BreakerConfig(
            threshold=settings.breaker_threshold, open_for=timedelta(seconds=settings.breaker_open_seconds)
        ),
        breaker_overrides=settings.breaker_overrides,
        identity=identity_pin(settings),
    )
    # Signs the audit head into the witness at least every minute while it moves, and at shutdown.
    checkpoints = checkpoint_plugin(settings)
    return Worker(
        client,
        task_queue=queue,
        plugins=[plugin] if checkpoints is None else [checkpoints, plugin],
        # On shutdown (SIGTERM) polling stops at once; running activities get this long to finish
        # before they are cancelled (and then retried by Temporal on another worker).
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )
