"""The baseline `agent_step_latency.py` compares the agent loop with: K gated reads, hand-written.

A module of its own (not the bench script) because the workflow sandbox re-imports the module
that defines a workflow, and a script runs as `__main__`.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow

from connectors.ledger.models import Customer, GetCustomer
from retrofit.gate import run_action

CUSTOMERS = ("C-1001", "C-1002", "C-1003", "C-1004", "C-1005", "C-1006", "C-1007", "C-1008")


class ReadsInput(BaseModel):
    actions: int


@workflow.defn(name="BenchGatedReads")
class GatedReads:
    """`actions` ledger reads through `run_action`, one after the other: what each agent turn's
    tool call costs when no model and no agent loop are involved."""

    @workflow.run
    async def run(self, req: ReadsInput) -> int:
        for i in range(req.actions):
            await run_action(
                "ledger.get_customer",
                GetCustomer(customer_id=CUSTOMERS[i % len(CUSTOMERS)]),
                returns=Customer,
            )
        return req.actions
