"""A workflow that handles a skipped action, as an integrator would write it (escalation tests)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from temporalio import workflow

from connectors.ledger.models import AddNote, Note
from retrofit.gate import ActionSkippedError, run_action


class NoteInput(BaseModel):
    customer_id: str
    text: str
    on_failure: Literal["raise", "escalate"] | None = None


class NoteResult(BaseModel):
    status: Literal["added", "skipped"]
    note_id: int | None = None
    skipped_by: str = ""


@workflow.defn(name="NoteOrSkip")
class NoteOrSkip:
    """Adds a ledger note; a note a person skipped after an outage is reported, not fatal."""

    @workflow.run
    async def run(self, req: NoteInput) -> NoteResult:
        try:
            note = await run_action(
                "ledger.add_note",
                AddNote(customer_id=req.customer_id, text=req.text),
                returns=Note,
                on_failure=req.on_failure,
            )
        except ActionSkippedError as exc:
            return NoteResult(status="skipped", skipped_by=exc.skipped_by)
        return NoteResult(status="added", note_id=note.id)
