"""AccountOnboarding workflow: open a customer's credit line and activate their CRM account.

Three writes, through the gate and a `Saga`:

1. `ledger.set_credit_limit` — undone by `ledger.set_credit_limit` back to the old limit;
2. `crm.update_account_status` to `active` — undone by the same action back to the old status;
3. `crm.add_note` with the welcome note — the last step, nothing to undo after it.

If any of them fails for good (or is rejected), the writes that succeeded are compensated in
reverse order — each compensation through the gate, audited, plus an `action.compensated`
record on the step it undid — and the workflow fails with `OnboardingFailed`. If a compensation
fails too, the workflow fails with `CompensationFailed` naming the steps left as they were.

Approvals: the writes (and compensating writes) wait for approval when the policy asks.
Updates / signals / queries: the approval handlers every Retrofit workflow has (`decide`,
`approve`, `reject`, `pending_approvals`). Timeouts: per action and per approval (the policy).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from connectors.crm.models import Account, AddNote, GetAccount, Note, UpdateAccountStatus
from connectors.ledger.models import Customer, GetCustomer, SetCreditLimit
from retrofit.gate import ActionError, run_action
from retrofit.gate.saga import Saga
from workflows.account_onboarding.models import OnboardingInput, OnboardingResult


@workflow.defn(name="AccountOnboarding")
class AccountOnboarding:
    @workflow.run
    async def run(self, req: OnboardingInput) -> OnboardingResult:
        workflow.set_current_details(f"Onboarding CRM account {req.account_id}")
        account = await run_action("crm.get_account", GetAccount(account_id=req.account_id), returns=Account)
        if not account.ledger_customer_id:
            raise ApplicationError(
                f"CRM account {account.id} is not linked to a ledger customer", type="NotInLedger"
            )
        customer = await run_action(
            "ledger.get_customer", GetCustomer(customer_id=account.ledger_customer_id), returns=Customer
        )

        saga = Saga()
        try:
            updated = await saga.run(
                "ledger.set_credit_limit",
                SetCreditLimit(customer_id=customer.id, credit_limit=req.credit_limit),
                undo=SetCreditLimit(customer_id=customer.id, credit_limit=customer.credit_limit),
                returns=Customer,
            )
            activated = await saga.run(
                "crm.update_account_status",
                UpdateAccountStatus(account_id=account.id, status="active"),
                # A plain mapping: the old status is whatever the CRM reported; the gate checks it.
                undo={"account_id": account.id, "status": account.status},
                returns=Account,
            )
            note = await saga.run(
                "crm.add_note", AddNote(account_id=account.id, body=req.welcome_note), returns=Note
            )
        except ActionError as exc:
            workflow.set_current_details(f"Step {exc.step} ({exc.action}) failed: undoing the earlier writes")
            undone = await saga.compensate(reason=f"{exc.action} failed: {exc.message}")
            steps = ", ".join(f"step {u.step} {u.action}" for u in undone) or "nothing to undo"
            workflow.set_current_details(f"Onboarding failed at {exc.action}; compensated: {steps}")
            raise ApplicationError(
                f"onboarding {account.id} failed at {exc.action}: {exc.message} (compensated: {steps})",
                {"failed_step": exc.step, "compensated_steps": [u.step for u in undone]},
                type="OnboardingFailed",
                non_retryable=True,
            ) from exc

        workflow.set_current_details(f"Done: {account.id} active, credit limit {updated.credit_limit}")
        return OnboardingResult(
            account_id=account.id,
            ledger_customer_id=customer.id,
            old_credit_limit=customer.credit_limit,
            credit_limit=updated.credit_limit,
            old_status=account.status,
            status=activated.status,
            note_id=note.id,
        )
