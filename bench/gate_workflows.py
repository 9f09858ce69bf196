"""The two workflows `gate_overhead.py` compares: K reads through the gate, or as a bare activity.

A module of its own (not the bench script) because the workflow sandbox re-imports the module
that defines a workflow, and a script runs as `__main__`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

from connectors.ledger.models import Customer, GetCustomer
from retrofit.gate import run_action

BARE_ACTIVITY = "bench.bare_get_customer"
CUSTOMERS = ("C-1001", "C-1002", "C-1003", "C-1004", "C-1005", "C-1006", "C-1007", "C-1008")


class LoopInput(BaseModel):
    actions: int


@workflow.defn(name="BenchGatedLoop")
class GatedLoop:
    """`actions` ledger reads through `run_action`: validation, policy, audit, the action activity."""

    @workflow.run
    async def run(self, req: LoopInput) -> int:
        for i in range(req.actions):
            customer = GetCustomer(customer_id=CUSTOMERS[i % len(CUSTOMERS)])
            await run_action("ledger.get_customer", customer, returns=Customer)
        return req.actions


@workflow.defn(name="BenchBareLoop")
class BareLoop:
    """The same reads as a plain activity calling the same connector: no gate, no audit."""

    @workflow.run
    async def run(self, req: LoopInput) -> int:
        for i in range(req.actions):
            # The gate's timeout and retry policy for this action, so only the gate differs.
            await workflow.execute_activity(
                BARE_ACTIVITY,
                GetCustomer(customer_id=CUSTOMERS[i % len(CUSTOMERS)]),
                result_type=Customer,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        return req.actions
