"""A deliberately changed CreditLimitReview, for proving that replay tests can fail."""

from __future__ import annotations

from temporalio import workflow

from retrofit.gate import run_action


@workflow.defn(name="CreditLimitReview", sandboxed=False)
class ReviewWithoutTheWrite:
    @workflow.run
    async def run(self, req: dict[str, str]) -> None:
        await run_action("ledger.get_customer", {"customer_id": req["customer_id"]})
        await run_action("ledger.add_note", {"customer_id": req["customer_id"], "text": "x"})
