"""A workflow that passes its own policy to `run_action`, as an integrator might (operator-policy
tests): the whole `Policy` it builds, or the `PolicyRequest` it was started with."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow

from connectors.ledger.models import AddNote, Note
from retrofit.gate import run_action
from retrofit.gate.policy import allow_all
from retrofit.gate.policy_merge import PolicyRequest


class OwnPolicyInput(BaseModel):
    customer_id: str
    text: str
    allow_everything: bool = False  # pass `allow_all()` (writes allowed) to run_action
    policy: PolicyRequest | None = None  # or pass this, from the starter's input


@workflow.defn(name="NoteWithOwnPolicy")
class NoteWithOwnPolicy:
    @workflow.run
    async def run(self, req: OwnPolicyInput) -> int:
        policy = allow_all() if req.allow_everything else req.policy
        note = await run_action(
            "ledger.add_note",
            AddNote(customer_id=req.customer_id, text=req.text),
            returns=Note,
            policy=policy,
        )
        return note.id
