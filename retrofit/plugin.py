"""Everything Retrofit adds to a Temporal client, worker or replayer, bundled as one plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.plugin import SimplePlugin
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from retrofit.gate import catalog
from retrofit.gate.interceptor import RetrofitInterceptor
from retrofit.gate.policy import Policy
from retrofit.registry import LoadedConnector
from retrofit.sdk.connector import ConnectorSettings

# Modules the workflow sandbox shares with the host rather than re-importing: pydantic for speed,
# `retrofit` so workflows see the worker's action catalog, `connectors` for the action models.
PASSTHROUGH_MODULES = ("pydantic", "pydantic_core", "annotated_types", "retrofit", "connectors")


def sandbox_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def register_catalog(connectors: Sequence[LoadedConnector]) -> None:
    for loaded in connectors:
        for spec in loaded.spec.actions:
            catalog.register(spec)


class RetrofitPlugin(SimplePlugin):
    """Data converter, sandbox, workflows, the action activities and worker resources.

    With `audit_url=None` it registers no activities and opens nothing: the shape a client or a
    `Replayer` needs.
    """

    def __init__(
        self,
        *,
        connectors: Sequence[LoadedConnector] = (),
        workflows: Sequence[type] = (),
        audit_url: str | None = None,
        policy: Policy | None = None,
        settings_overrides: Mapping[str, ConnectorSettings] | None = None,
    ) -> None:
        register_catalog(connectors)
        activities: list[Any] = []
        run_context = None
        if audit_url is not None:
            # Imported here: clients and replayers need none of the I/O stack.
            from retrofit.execution.action_activity import build_action_activity
            from retrofit.execution.answer_audit_activity import build_answer_audit_activity
            from retrofit.execution.audit_activity import build_audit_activity
            from retrofit.execution.policy_activity import build_policy_activity
            from retrofit.execution.resources import WorkerResources

            resources = WorkerResources([c.cls for c in connectors], audit_url, settings_overrides)
            activities.append(build_audit_activity(resources))
            activities.append(build_answer_audit_activity(resources))
            activities.append(build_policy_activity(policy or Policy()))
            for loaded in connectors:
                activities.extend(build_action_activity(s, resources) for s in loaded.spec.actions)

            @asynccontextmanager
            async def opened() -> AsyncIterator[None]:
                await resources.open()
                try:
                    yield
                finally:
                    await resources.close()

            run_context = opened
            self.resources = resources
        super().__init__(
            "retrofit",
            data_converter=pydantic_data_converter,
            activities=activities or None,
            workflows=list(workflows) or None,
            workflow_runner=sandbox_runner(),
            interceptors=[RetrofitInterceptor()],
            run_context=run_context,
        )
