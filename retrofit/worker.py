"""Wire a Temporal worker with every discovered connector and workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

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


def build_worker(
    client: Client,
    settings: RetrofitSettings,
    *,
    connectors: Sequence[LoadedConnector] | None = None,
    workflows: Sequence[type] | None = None,
    policy: Policy | None = None,
    task_queue: str | None = None,
    settings_overrides: Mapping[str, ConnectorSettings] | None = None,
) -> Worker:
    if policy is None and settings.policy_file is not None:
        policy = load_policy_file(settings.policy_file)
    plugin = RetrofitPlugin(
        connectors=load_connectors() if connectors is None else connectors,
        workflows=load_workflows() if workflows is None else workflows,
        audit_url=settings.audit_db_url,
        policy=policy,
        settings_overrides=settings_overrides,
    )
    return Worker(client, task_queue=task_queue or settings.task_queue, plugins=[plugin])
