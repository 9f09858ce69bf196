"""CreditLimitReview workflow.

Reads a customer from the ledger; if they use at least `utilisation_threshold` of their credit
limit, raises the limit by `increase_percent` and logs a note on the account. Every call goes
through the gate (validation, policy, audit).

Approvals: the writes wait for approval when the policy asks (by default one approval each);
a rejected note does not undo the limit change. Updates / signals / queries: the approval
handlers every Retrofit workflow has (`decide`, `approve`, `reject`, `pending_approvals`).
Timeouts: per action (see the ledger connector) and per approval (the policy).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from temporalio import workflow

from connectors.ledger.models import AddNote, Customer, GetCustomer, Note, SetCreditLimit
from retrofit.gate import ActionRejectedError, run_action
from workflows.credit_limit_review.models import CreditReviewInput, CreditReviewResult

CENT = Decimal("0.01")


@workflow.defn(name="CreditLimitReview")
class CreditLimitReview:
    @workflow.run
    async def run(self, req: CreditReviewInput) -> CreditReviewResult:
        workflow.set_current_details(f"Reviewing the credit limit of customer {req.customer_id}")
        customer = await run_action(
            "ledger.get_customer", GetCustomer(customer_id=req.customer_id), returns=Customer
        )
        utilisation = (
            (customer.balance / customer.credit_limit).quantize(CENT)
            if customer.credit_limit > 0
            else Decimal("1.00")
        )
        if utilisation < req.utilisation_threshold:
            workflow.set_current_details(f"No change: utilisation {utilisation} below threshold")
            return self._result(customer, utilisation, customer.credit_limit)

        new_limit = (customer.credit_limit * (1 + req.increase_percent / 100)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        updated = await run_action(
            "ledger.set_credit_limit",
            SetCreditLimit(customer_id=customer.id, credit_limit=new_limit),
            returns=Customer,
        )
        note_id: int | None = None
        try:
            note = await run_action(
                "ledger.add_note",
                AddNote(
                    customer_id=customer.id,
                    text=(
                        f"Credit limit raised from {customer.credit_limit} to {updated.credit_limit} "
                        f"{customer.currency}: utilisation was {utilisation}."
                    ),
                ),
                returns=Note,
            )
            note_id = note.id
        except ActionRejectedError:
            # The limit change stands; a rejected note only means no note (it is in the audit trail).
            pass
        workflow.set_current_details(f"Done: limit {customer.credit_limit} -> {updated.credit_limit}")
        return self._result(customer, utilisation, updated.credit_limit, note_id)

    @staticmethod
    def _result(
        customer: Customer, utilisation: Decimal, new_limit: Decimal, note_id: int | None = None
    ) -> CreditReviewResult:
        return CreditReviewResult(
            customer_id=customer.id,
            customer_name=customer.name,
            utilisation=utilisation,
            old_limit=customer.credit_limit,
            new_limit=new_limit,
            changed=new_limit != customer.credit_limit,
            note_id=note_id,
        )
