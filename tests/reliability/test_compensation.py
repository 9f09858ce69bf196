"""AccountOnboarding: three writes, the third fails for good, the first two are undone newest first
through their declared `compensate=` actions, and the audit trail records every step of it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from retrofit.audit.store import AuditStore
from tests.reliability.processes import ledger_effects
from tests.reliability.saga_worker import NOTE_FAILS_FOR_GOOD, ONBOARDED_ACCOUNT, onboarding_worker
from tests.support import DemoSystems, audit_of
from workflows.account_onboarding.models import OnboardingInput, OnboardingResult


@pytest.mark.devserver
async def test_onboarding_succeeds_with_three_writes(
    dev_server_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str
) -> None:
    async with onboarding_worker(dev_server_env.client, demo_systems, audit_url) as worker:
        result = await dev_server_env.client.execute_workflow(
            "AccountOnboarding",
            OnboardingInput(account_id=ONBOARDED_ACCOUNT, credit_limit=Decimal("90000.00")),
            id=f"onboarding-ok-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
            result_type=OnboardingResult,
        )
    assert (result.old_status, result.status) == ("on_hold", "active")
    assert (result.old_credit_limit, result.credit_limit) == (Decimal("75000.00"), Decimal("90000.00"))
    assert demo_systems.crm.state.get_account(ONBOARDED_ACCOUNT).status == "active"


@pytest.mark.devserver
async def test_third_write_fails_and_the_first_two_are_compensated_in_reverse(
    dev_server_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str
) -> None:
    crm, ledger = demo_systems.crm, demo_systems.ledger
    async with httpx.AsyncClient() as http:
        (await http.post(f"{crm.url}/_admin/faults", json=NOTE_FAILS_FOR_GOOD)).raise_for_status()
    wf_id = f"onboarding-fails-{uuid.uuid4().hex[:8]}"
    async with onboarding_worker(dev_server_env.client, demo_systems, audit_url) as worker:
        with pytest.raises(WorkflowFailureError) as failed:
            await dev_server_env.client.execute_workflow(
                "AccountOnboarding",
                OnboardingInput(account_id=ONBOARDED_ACCOUNT, credit_limit=Decimal("90000.00")),
                id=wf_id,
                task_queue=worker.task_queue,
            )
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "OnboardingFailed"
    assert "failed at crm.add_note" in cause.message
    assert "compensated: step 4 crm.update_account_status, step 3 ledger.set_credit_limit" in cause.message

    # Both systems are back where they started; each undo was one more write, not a deletion.
    assert ledger.state.get_customer("C-1006").credit_limit == Decimal("75000.00")
    assert crm.state.get_account(ONBOARDED_ACCOUNT).status == "on_hold"
    assert (await ledger_effects(ledger.url))["credit_limit"] == {"C-1006": 2}

    records = await audit_of(audit_url, wf_id)
    trail = [
        (r.kind.value, r.step, r.action)
        for r in records
        if r.kind.value in ("action.succeeded", "action.failed", "action.compensated")
    ]
    assert trail == [
        ("action.succeeded", 1, "crm.get_account"),
        ("action.succeeded", 2, "ledger.get_customer"),
        ("action.succeeded", 3, "ledger.set_credit_limit"),
        ("action.succeeded", 4, "crm.update_account_status"),
        ("action.failed", 5, "crm.add_note"),
        ("action.succeeded", 6, "crm.update_account_status"),  # undoes step 4 ...
        ("action.compensated", 4, "crm.update_account_status"),
        ("action.succeeded", 7, "ledger.set_credit_limit"),  # ... then step 3
        ("action.compensated", 3, "ledger.set_credit_limit"),
    ]
    compensated = {r.step: r for r in records if r.kind.value == "action.compensated"}
    assert compensated[4].data["compensation_step"] == 6
    assert compensated[4].data["arguments"] == {"account_id": ONBOARDED_ACCOUNT, "status": "on_hold"}
    assert compensated[3].data["arguments"] == {"customer_id": "C-1006", "credit_limit": "75000.00"}
    assert compensated[3].idempotency_key == f"{wf_id}#3"
    assert "crm.add_note failed" in compensated[3].data["reason"]
    async with await AuditStore.open(audit_url) as store:
        assert (await store.verify()).ok
