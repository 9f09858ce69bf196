"""Helpers for tests that run workflows on a real Temporal server with the real ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from connectors.crm.connector import CrmConnector
from connectors.erp.connector import ErpConnector
from connectors.ledger.connector import LedgerConnector
from connectors.northwind.connector import NorthwindConnector
from legacy.crm.server import CrmServer
from legacy.erp.server import ErpServer
from legacy.ledger.server import LedgerServer
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.audit.events import AuditRecord
from retrofit.audit.store import AuditStore
from retrofit.gate.policy import Policy
from retrofit.identity.pin import IdentityPin
from retrofit.llm.scripted_server import Script, ScriptedModelServer, ScriptedTurn
from retrofit.llm.settings import LlmSettings, ModelPrice
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk.connector import ConnectorSettings
from tests.identity_support import PIN
from workflows.account_onboarding.workflow import AccountOnboarding
from workflows.agent_task.workflow import AgentTask
from workflows.credit_limit_review.workflow import CreditLimitReview
from workflows.overdue_follow_up.workflow import OverdueFollowUp
from workflows.single_action.workflow import SingleAction

SHIPPED_WORKFLOWS: list[type] = [
    CreditLimitReview,
    SingleAction,
    OverdueFollowUp,
    AgentTask,
    AccountOnboarding,
]
SCRIPTED_KEY = "test-scripted-key"


def ledger_worker(
    client: Client,
    ledger: LedgerServer,
    audit_url: str,
    *,
    workflows: Sequence[type] = SHIPPED_WORKFLOWS,
    policy: Policy | None = None,
    task_queue: str | None = None,
    identity: IdentityPin = PIN,
) -> Worker:
    """A worker with the real ledger connector pointed at `ledger`, on its own task queue;
    answers are verified with the test identity key (`tests.identity_support`)."""
    settings = LedgerConnector.load_settings(base_url=ledger.url, api_key=ledger.api_key)
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([LedgerConnector]),
        workflows=workflows,
        audit_url=audit_url,
        policy=policy,
        settings_overrides={"ledger": settings},
        identity=identity,
    )
    return Worker(client, task_queue=task_queue or f"test-{uuid.uuid4()}", plugins=[plugin])


def inject_fault(ledger: LedgerServer, **plan: Any) -> None:
    httpx.post(f"{ledger.url}/_admin/faults", json=plan, timeout=5).raise_for_status()


def ledger_effects(ledger: LedgerServer) -> dict[str, Any]:
    response = httpx.get(f"{ledger.url}/_admin/effects", timeout=5)
    response.raise_for_status()
    return dict(response.json())


async def audit_of(audit_url: str, workflow_id: str) -> list[AuditRecord]:
    async with await AuditStore.open(audit_url) as store:
        return await store.for_workflow(workflow_id)


def kinds(records: Sequence[AuditRecord]) -> list[str]:
    return [r.kind.value for r in records]


@dataclass
class DemoSystems:
    """All demo legacy systems on loopback, as `retrofit dev --demo` runs them."""

    ledger: LedgerServer
    erp: ErpServer
    crm: CrmServer
    northwind: SqlDemoDatabase

    def connector_settings(self) -> dict[str, ConnectorSettings]:
        return {
            "ledger": LedgerConnector.load_settings(base_url=self.ledger.url, api_key=self.ledger.api_key),
            "erp": ErpConnector.load_settings(wsdl=self.erp.wsdl_url),
            "crm": CrmConnector.load_settings(base_url=self.crm.url, client_secret=self.crm.client_secret),
            "northwind": NorthwindConnector.load_settings(url=self.northwind.url),
        }


def demo_worker(
    client: Client,
    systems: DemoSystems,
    audit_url: str,
    *,
    policy: Policy | None = None,
    task_queue: str | None = None,
    llm_settings: LlmSettings | None = None,
    identity: IdentityPin = PIN,
    workflows: Sequence[type] = SHIPPED_WORKFLOWS,
    **worker_options: Any,
) -> Worker:
    """A worker with every built-in connector, each pointed at its demo system; answers are
    verified with the test identity key. `worker_options` go to `Worker` (e.g. no workflow cache,
    for a test that kills this worker and lets another take over)."""
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([LedgerConnector, ErpConnector, CrmConnector, NorthwindConnector]),
        workflows=workflows,
        audit_url=audit_url,
        policy=policy,
        settings_overrides=systems.connector_settings(),
        llm_settings=llm_settings,
        identity=identity,
    )
    return Worker(client, task_queue=task_queue or f"test-{uuid.uuid4()}", plugins=[plugin], **worker_options)


class ScriptedModel:
    """The shared scripted model server, as one test sees it: scripts, faults, what was sent."""

    def __init__(self, server: ScriptedModelServer) -> None:
        self.server = server

    def admin(self, method: str, path: str, body: object = None) -> httpx.Response:
        # Plain HTTP on loopback: verify=False only skips loading a CA bundle that would go unused.
        response = httpx.request(method, f"{self.server.url}{path}", json=body, timeout=5, verify=False)
        response.raise_for_status()
        return response

    def play(self, script: Script) -> None:
        """Make `script` the default: what requests for any unknown model get."""
        self.admin("PUT", "/_admin/script", script.model_dump(mode="json"))

    def play_default(self, script: Script | None) -> None:
        self.play(script or Script())

    def add(self, *turns: ScriptedTurn, repeat_last: bool = False) -> str:
        """Register a script under a fresh model name (returned): one test's own conversation."""
        model = f"t{uuid.uuid4().hex[:10]}-scripted"
        script = Script(model=model, turns=list(turns), repeat_last=repeat_last)
        self.admin("POST", "/_admin/scripts", script.model_dump(mode="json"))
        return model

    def fail_next(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        self.admin(
            "POST", "/_admin/faults", {"fail_next": times, "status": status, "retry_after": retry_after}
        )

    def requests(self, model: str | None = None) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = self.admin("GET", "/_admin/requests").json()
        return [r for r in received if model is None or r["body"].get("model") == model]

    def settings(self, **overrides: Any) -> LlmSettings:
        """Model settings pointing at this server; explicit, so a developer's environment cannot
        change a test."""
        values: dict[str, Any] = {
            "base_url": self.server.base_url,
            "api_key": SCRIPTED_KEY,
            "model": "retrofit-scripted",
            "temperature": 0.0,
            "timeout_seconds": 5.0,
        }
        values.update(overrides)
        return LlmSettings(**values)


def priced(
    settings: LlmSettings, model: str, input_per_million: float, output_per_million: float
) -> LlmSettings:
    """`settings` with a price for `model` (scripted models are free by default)."""
    prices = dict(settings.prices)
    prices[model] = ModelPrice(input_per_million=input_per_million, output_per_million=output_per_million)
    return settings.model_copy(update={"prices": prices})
