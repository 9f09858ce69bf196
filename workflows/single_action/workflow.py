"""SingleAction workflow: run one action, by name, through the gate.

For business users and ops who need one call with the full treatment (validation, policy,
approval, audit) without writing a workflow:
`retrofit start SingleAction --input '{"action": "ledger.get_customer", "arguments": {...}}'`.

Updates / signals / queries: none. Timeouts: the action's own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow

from retrofit.gate import WorkflowInput, run_action


class SingleActionInput(WorkflowInput):
    action: str = Field(description="`connector.action`, as listed by `retrofit connectors list`")
    arguments: dict[str, Any] = Field(default_factory=dict)


class SingleActionResult(BaseModel):
    action: str
    output: dict[str, Any]


@workflow.defn(name="SingleAction")
class SingleAction:
    @workflow.run
    async def run(self, req: SingleActionInput) -> SingleActionResult:
        output = await run_action(req.action, req.arguments)
        return SingleActionResult(action=req.action, output=output.model_dump(mode="json"))
