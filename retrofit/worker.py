"""Wire a Temporal worker with every discovered connector and workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from retrofit.gate.policy import Policy
from retrofit.plugin import RetrofitPlugin
from retrofit.policy_file import load_policy_file
from retrofit.registry import LoadedConnector, load_connectors, load_workflows
from retrofit.sdk.connector import ConnectorSettings
from retrofit.settings import RetrofitSettings


async def connect(settings: RetrofitSettings, *, wait: float = 0.0, identity: str | None = None) -> Client:
    """A client with Retrofit's data converter; retries for `wait` seconds while the server starts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=pydantic_data_converter,
                identity=identity,
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


def load_worker_config(settings: RetrofitSettings) -> WorkerConfig:
    """Plugins, workflows and the policy file: a bad one stops the worker here, by name, before
    it dials Temporal (raises PluginError or PolicyFileError)."""
    return WorkerConfig(
        connectors=load_connectors(),
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
) -> Worker:
    config = config or load_worker_config(settings)
    plugin = RetrofitPlugin(
        connectors=config.connectors,
        workflows=config.workflows,
        audit_url=settings.audit_db_url,
        policy=config.policy,
        settings_overrides=settings_overrides,
    )
    return Worker(client, task_queue=task_queue or settings.task_queue, plugins=[plugin])
