"""Everything Retrofit adds to a Temporal client, worker or replayer, bundled as one plugin."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.plugin import SimplePlugin
from temporalio.worker import Worker, WorkerConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from retrofit.codec.converter import with_pydantic_payloads
from retrofit.codec.payloads import RetrofitPayloadConverter
from retrofit.gate import catalog
from retrofit.gate.interceptor import RetrofitInterceptor
from retrofit.gate.policy import Policy
from retrofit.gate.workflow_input import loose_inputs
from retrofit.identity.pin import IdentityPin
from retrofit.llm.settings import LlmSettings
from retrofit.registry import LoadedConnector
from retrofit.sdk.connector import ConnectorSettings

if TYPE_CHECKING:
    from retrofit.execution.circuit_breaker import BreakerConfig, BreakerOverride
    from retrofit.execution.search_attribute_check import SearchAttributeCheck

logger = logging.getLogger(__name__)

# Modules the workflow sandbox shares with the host rather than re-importing: pydantic for speed,
# `retrofit` so workflows see the worker's action catalog, `connectors` for the action models,
# `jwt` and `cryptography` for verifying signed answers in handlers (deterministic; the Rust
# extension imports its exception types at the moment a signature fails, and must find them).
PASSTHROUGH_MODULES = (
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "retrofit",
    "connectors",
    "jwt",
    "cryptography",
)


def sandbox_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def _warn_loose_inputs(workflows: Sequence[type]) -> None:
    loose = loose_inputs(workflows)
    if loose:
        logger.warning(
            "workflows whose start input is not a retrofit.WorkflowInput: %s; a start whose input "
            "does not decode fails their first workflow task again and again instead of the run "
            "(integrator guide, 'Your own workflow')",
            ", ".join(loose),
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
        llm_settings: LlmSettings | None = None,
        breaker_defaults: BreakerConfig | None = None,
        breaker_overrides: Mapping[str, BreakerOverride] | None = None,
        task_queues: Mapping[str, str] | None = None,
        serve_connectors: Collection[str] | None = None,
        identity: IdentityPin | None = None,
    ) -> None:
        # Every connector's actions are in the catalog (workflows may call any of them); only
        # `serve_connectors` (default: all) get activities and open clients on this worker.
        register_catalog(connectors)
        served = [c for c in connectors if serve_connectors is None or c.spec.name in serve_connectors]
        activities: list[Any] = []
        run_context = None
        self._search_attributes: SearchAttributeCheck | None = None
        if audit_url is not None:
            _warn_loose_inputs(workflows)
            # Imported here: clients and replayers need none of the I/O stack.
            from retrofit.execution.action_activity import build_action_activity
            from retrofit.execution.answer_audit_activity import build_answer_audit_activity
            from retrofit.execution.audit_activity import build_audit_activity
            from retrofit.execution.llm_activity import LlmRuntime, build_llm_activity
            from retrofit.execution.policy_activity import build_policy_activity
            from retrofit.execution.reconcile_activity import build_reconcile_activity
            from retrofit.execution.resources import WorkerResources

            resources = WorkerResources(
                [c.cls for c in served],
                audit_url,
                settings_overrides,
                breaker_defaults=breaker_defaults,
                breaker_overrides=breaker_overrides,
            )
            activities.append(build_audit_activity(resources))
            activities.append(build_answer_audit_activity(resources))
            # `identity`: the identity service's public keys every answer is verified with
            # (`retrofit.identity.keys.identity_pin`); None refuses every answer.
            from retrofit.execution.search_attribute_check import SearchAttributeCheck

            # Which search attributes the namespace has: checked at worker start (run_worker).
            self._search_attributes = SearchAttributeCheck()
            activities.append(
                build_policy_activity(policy or Policy(), task_queues, identity, self._search_attributes)
            )
            llm = LlmRuntime(llm_settings or LlmSettings())
            activities.append(build_llm_activity(llm, resources))
            for loaded in served:
                activities.extend(build_action_activity(s, resources) for s in loaded.spec.actions)
                activities.append(build_reconcile_activity(loaded.spec, resources))

            @asynccontextmanager
            async def opened() -> AsyncIterator[None]:
                await resources.open()
                try:
                    yield
                finally:
                    await llm.close()
                    await resources.close()

            run_context = opened
            self.resources = resources
        super().__init__(
            "retrofit",
            # A callable, so a client's codec (retrofit.codec) survives the plugin.
            data_converter=with_pydantic_payloads,
            activities=activities or None,
            workflows=list(workflows) or None,
            workflow_runner=sandbox_runner(),
            interceptors=[RetrofitInterceptor()],
            run_context=run_context,
        )

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        config = super().configure_worker(config)
        client = config.get("client")
        if (
            client is not None
            and client.data_converter.payload_converter_class is not RetrofitPayloadConverter
        ):
            # A worker decodes with its client's converter, and the data-converter parameter
            # only reaches clients built with this plugin: a worker given any other client still
            # hands the gate a start input that does not decode (`retrofit.gate.workflow_input`)
            # instead of failing workflow tasks forever. Same connection, codec kept.
            client_config = client.config(active_config=True)
            client_config["data_converter"] = with_pydantic_payloads(client.data_converter)
            client_config["plugins"] = []  # already applied to the active config
            config["client"] = Client(**client_config)
        return config

    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        if self._search_attributes is not None:
            await self._search_attributes.run(worker.client)
        await super().run_worker(worker, next)
