"""A workflow whose code builds an action model from its input without checking it first, as an
integrator's might: the connector's pattern refuses the value inside the run."""

from __future__ import annotations

from temporalio import workflow

from connectors.ledger.models import Customer, GetCustomer
from retrofit.gate import WorkflowInput, run_action


class LooseLookupInput(WorkflowInput):
    customer_id: str  # no pattern here: the ledger's model has one


@workflow.defn(name="LooseLookup")
class LooseLookup:
    @workflow.run
    async def run(self, req: LooseLookupInput) -> str:
        customer = await run_action(
            "ledger.get_customer", GetCustomer(customer_id=req.customer_id), returns=Customer
        )
        return customer.name
