"""Action input models refuse unknown fields: a misspelt `emial` is an input error naming it,
never a silently dropped field that goes to approval as `email: None`."""

from __future__ import annotations

import uuid
from importlib.metadata import EntryPoint

import pytest
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from connectors.crm.connector import CrmConnector
from connectors.erp.connector import ErpConnector
from connectors.ledger.connector import LedgerConnector
from connectors.northwind.connector import NorthwindConnector
from legacy.ledger.server import LedgerServer
from retrofit import ActionInput, Connector, Effect, action
from retrofit.gate.policy import Outcome, Policy, Rule
from retrofit.llm.tools import tool_spec
from retrofit.mcp.serving.tools import as_tool
from retrofit.registry import CONNECTOR_GROUP, connectors_from_classes, load_connectors
from retrofit.sdk import PluginError
from retrofit.sdk.spec import models_allowing_extra
from tests.support import audit_of, kinds, ledger_effects, ledger_worker
from workflows.single_action.workflow import SingleActionInput

SHIPPED = [LedgerConnector, ErpConnector, CrmConnector, NorthwindConnector]


class Out(BaseModel):
    ok: bool = True


class PlainIn(BaseModel):  # pydantic's default: unknown fields ignored
    email: str | None = None


class Address(BaseModel):
    city: str


class NestedLax(ActionInput):
    addresses: list[Address] = Field(default_factory=list)


class ExplicitIgnore(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str | None = None


class Strict(ActionInput):
    email: str | None = None


class Plain(Connector):
    name = "plain_in"

    @action(effect=Effect.WRITE)
    async def update(self, req: PlainIn) -> Out:
        """Update."""
        return Out()


class Nested(Connector):
    name = "nested_in"

    @action(effect=Effect.WRITE)
    async def update(self, req: NestedLax) -> Out:
        """Update."""
        return Out()


class Ignoring(Connector):
    name = "ignoring_in"

    @action(effect=Effect.WRITE)
    async def update(self, req: ExplicitIgnore) -> Out:
        """Update."""
        return Out()


class OptedOut(Connector):
    name = "opted_out"

    @action(effect=Effect.READ, allow_extra=True)
    async def search(self, req: ExplicitIgnore) -> Out:
        """Search with whatever filters the caller sends."""
        return Out()


class Compliant(Connector):
    name = "compliant"

    @action(effect=Effect.WRITE)
    async def update(self, req: Strict) -> Out:
        """Update."""
        return Out()


def ep(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{target}", group=CONNECTOR_GROUP)


@pytest.mark.parametrize(
    ("target", "models"),
    [("Plain", "PlainIn"), ("Nested", "Address"), ("Ignoring", "ExplicitIgnore")],
)
def test_an_input_model_that_drops_unknown_fields_is_refused_at_load_time(target: str, models: str) -> None:
    with pytest.raises(PluginError) as info:
        load_connectors([ep("acme", target)])
    message = str(info.value)
    assert f"connector plugin 'acme = {__name__}:{target}'" in message
    assert f"input model {models} would drop unknown (misspelt) fields silently" in message
    assert "retrofit.ActionInput" in message and "allow_extra=True" in message


def test_allow_extra_is_the_explicit_opt_out() -> None:
    [loaded] = load_connectors([ep("acme", "OptedOut")])
    [spec] = loaded.spec.actions
    assert spec.input_model.model_validate({"email": "a@b", "anything": 1}) == ExplicitIgnore(email="a@b")


def test_the_tool_schemas_say_no_additional_properties() -> None:
    [loaded] = load_connectors([ep("acme", "Compliant")])
    [spec] = loaded.spec.actions
    assert spec.input_schema()["additionalProperties"] is False
    assert tool_spec(spec).parameters["additionalProperties"] is False  # what the agent's model sees
    assert as_tool(spec).input_schema["additionalProperties"] is False  # what MCP clients see


def test_every_shipped_connector_refuses_unknown_fields() -> None:
    specs = [a for c in connectors_from_classes(SHIPPED) for a in c.spec.actions]
    assert len(specs) > 20
    assert {
        s.name: models_allowing_extra(s.input_model) for s in specs if models_allowing_extra(s.input_model)
    } == {}
    assert all(s.input_schema()["additionalProperties"] is False for s in specs)


# Writes wait for finance; a refused input must never get that far.
APPROVE_WRITES = Policy(
    groups={"finance": ("alice",)},
    by_effect={
        Effect.READ: Rule(outcome=Outcome.ALLOW),
        Effect.WRITE: Rule(outcome=Outcome.REQUIRE_APPROVAL),
        Effect.DESTRUCTIVE: Rule(outcome=Outcome.REQUIRE_APPROVAL),
    },
)


async def test_a_misspelt_field_through_the_gate_is_an_input_error_naming_it(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    wf_id = f"misspelt-{uuid.uuid4().hex[:8]}"
    arguments = {"customer_id": "C-1003", "text": "call back", "emial": "ops@example.com"}
    async with ledger_worker(time_skipping_env.client, ledger, audit_url, policy=APPROVE_WRITES) as worker:
        with pytest.raises(WorkflowFailureError) as info:
            await time_skipping_env.client.execute_workflow(
                "SingleAction",
                SingleActionInput(action="ledger.add_note", arguments=arguments),
                id=wf_id,
                task_queue=worker.task_queue,
            )
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidArguments" and cause.non_retryable
    assert "invalid arguments for ledger.add_note: emial: Extra inputs are not permitted" in cause.message
    records = await audit_of(audit_url, wf_id)
    assert kinds(records) == ["action.invalid"]  # no proposal, no approval request, nothing ran
    assert records[0].data["errors"] == ["emial: Extra inputs are not permitted"]
    assert ledger_effects(ledger).get("notes", {}) == {}
    assert ledger.state.notes_of("C-1003") == []
