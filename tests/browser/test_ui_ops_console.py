"""The ops console walk: what an ops person does in the Temporal UI, checking the page text at
each step (issue 15, part 3).

1. The workflow list, filtered with the saved-view query `RetrofitWaiting = "approval"`, shows the
   waiting delete (and not a finished read); `RetrofitEffect = "DESTRUCTIVE"` narrows to it.
2. The waiting workflow's User Metadata: what waits, DESTRUCTIVE, the approver group's members,
   who started it, the JSON to paste.
3. A refused answer (logged in as someone outside the group) reads as one sentence, no traceback;
   after a reload the details show the last refusal and why.
4. The two finance approvers answer with the `decide` Update; the run completes, the details say
   what was approved and by whom, and the customer is gone from the real ledger.
5. An agent task stopped on its budget shows as Failed in the list, not a green Completed.

Screenshots: docs/screenshots/ops-*.png (with RETROFIT_UPDATE_DOC_SCREENSHOTS=1).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'")

from playwright.async_api import Page, expect
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from legacy.ledger.server import LedgerServer
from retrofit.agent.contracts import AgentTaskInput, StopReason
from retrofit.agent.stopped import stopped_result
from retrofit.embedded.identity_server import demo_password
from retrofit.gate.approval_models import ApprovalView
from retrofit.gate.policy import ApprovalRequirement, Outcome, Policy, Rule
from retrofit.llm.scripted_server import Script
from tests.browser.browser_env import CHROMIUM, Screenshots, UiServer
from tests.browser.temporal_ui import (
    LOAD_TIMEOUT_MS,
    STEP_TIMEOUT_MS,
    WorkflowPage,
    apply_codec_settings,
    configure_codec_server,
    log_in,
)
from tests.support import (
    DemoSystems,
    ScriptedModel,
    audit_of,
    demo_worker,
    kinds,
    ledger_effects,
    ledger_worker,
)
from tests.workflow.agent_helpers import calls

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: run .ci/install-browser (apt-get install chromium)",
    ),
]

DELETE = {"action": "ledger.delete_customer", "arguments": {"customer_id": "C-1004"}}
READ = {"action": "ledger.get_customer", "arguments": {"customer_id": "C-1001"}}
POLICY = Policy(
    by_action={
        "ledger.delete_customer": Rule(
            outcome=Outcome.REQUIRE_APPROVAL,
            reason="deleting a customer is irreversible",
            approval=ApprovalRequirement(allowed_groups=("finance",)),
        )
    },
    groups={"finance": ("alice", "bob")},
)
TRACEBACK_TEXT = ("Traceback", 'File "')
_ANSWER_JSON = re.compile(r"Update decide with input (\{[^}]*\})")


async def _start(
    client: Client, task_queue: str, arg: dict[str, Any], prefix: str, summary: str
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        "SingleAction",
        arg,
        id=f"{prefix}-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        static_summary=summary,
    )


async def _pending(handle: WorkflowHandle[Any, Any]) -> ApprovalView:
    for _ in range(300):
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        if views:
            return views[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id}: no pending approval appeared")


async def _list(page: Page, ui_url: str, query: str) -> None:
    await page.goto(f"{ui_url}/namespaces/default/workflows?query={quote(query)}", wait_until="commit")
    await expect(page.get_by_role("table")).to_be_visible(timeout=LOAD_TIMEOUT_MS)


async def _no_traceback(page: Page) -> None:
    text = await page.locator("body").inner_text()
    for needle in TRACEBACK_TEXT:
        assert needle not in text, text


async def _decide(ui: WorkflowPage, answer: dict[str, Any]) -> None:
    await ui.open()
    dialog = await ui.open_update_form("decide", answer)
    await ui.submit(dialog)
    await ui.expect_toast("Update successful")


async def test_ops_walk_list_details_refusal_approval_effect(
    ui_server: UiServer, page: Page, ledger: LedgerServer, audit_url: str, screenshots: Screenshots
) -> None:
    assert ui_server.pin is not None
    client = ui_server.env.client
    await log_in(page, ui_server.identity_url, "carol", demo_password("carol"))
    await configure_codec_server(page, ui_server.url, ui_server.identity_url)
    await apply_codec_settings(page)

    async with ledger_worker(client, ledger, audit_url, identity=ui_server.pin, policy=POLICY) as worker:
        done = await _start(client, worker.task_queue, READ, "ops-read", "Read customer C-1001")
        await done.result()
        handle = await _start(client, worker.task_queue, DELETE, "ops-delete", "Delete customer C-1004")
        view = await _pending(handle)

        # 1. The list: the saved-view query shows what waits, not what finished.
        await _list(page, ui_server.url, 'RetrofitWaiting = "approval"')
        rows = page.get_by_role("table")
        await expect(rows).to_contain_text(handle.id, timeout=STEP_TIMEOUT_MS)
        await expect(rows).not_to_contain_text(done.id)
        await screenshots.take(page, "list-waiting", doc_name="ops-list-waiting.png")
        await _list(page, ui_server.url, 'RetrofitEffect = "DESTRUCTIVE"')
        await expect(page.get_by_role("table")).to_contain_text(handle.id, timeout=STEP_TIMEOUT_MS)
        await _list(page, ui_server.url, 'RetrofitActions = "ledger.get_customer"')
        await expect(page.get_by_role("table")).not_to_contain_text(handle.id, timeout=STEP_TIMEOUT_MS)

        # 2. The waiting workflow's details.
        ui = WorkflowPage(page, ui_server.url, handle.id)
        await ui.open()
        details = await ui.current_details()
        body = details.locator("body")
        await expect(body).to_contain_text("Waiting for approval", timeout=STEP_TIMEOUT_MS)
        shown = await body.inner_text()
        # The one-line static summary the starter gave, rendered in its own frame above the details.
        summary = page.frame_locator("iframe:not(#user-metadata-current-details)").first
        await expect(summary.locator("body")).to_contain_text(
            "Delete customer C-1004", timeout=STEP_TIMEOUT_MS
        )
        for line in (
            "Waiting for approval: ledger.delete_customer (step 1, request apr-1)",
            "Effect: DESTRUCTIVE",
            "Group finance: alice, bob",
            "Started by: unverified (who started it may not approve it)",
            f"Log in at {ui_server.pin.login_url} first",
            "Update decide with input",
        ):
            assert line in shown, (line, shown)
        match = _ANSWER_JSON.search(shown)
        assert match, shown
        answer: dict[str, Any] = json.loads(match.group(1))
        assert answer["args_hash"] == view.args_hash
        await screenshots.take(page, "details", doc_name="ops-details.png")

        # 3. Carol (controllers) is not in finance: one sentence, no traceback, audited.
        dialog = await ui.open_update_form("decide", answer)
        await dialog.get_by_role("button", name="Submit").click(timeout=STEP_TIMEOUT_MS)
        await expect(dialog).to_contain_text(
            "'carol' may not answer request apr-1 (allowed: group:finance)", timeout=STEP_TIMEOUT_MS
        )
        await _no_traceback(page)
        await screenshots.take(page, "refused", doc_name="ops-refused.png")
        await dialog.get_by_test_id("cancel-modal-button").click(timeout=STEP_TIMEOUT_MS)
        await ui.open()
        details = await ui.current_details()
        await expect(details.locator("body")).to_contain_text(
            "Last refused answer (update decide, carol):", timeout=STEP_TIMEOUT_MS
        )
        await expect(details.locator("body")).to_contain_text("(allowed: group:finance)")
        await _no_traceback(page)
        assert "approval.refused" in kinds(await audit_of(audit_url, handle.id))

        # 4. The two finance approvers answer; the customer is deleted in the ledger.
        for approver in ("alice", "bob"):
            await log_in(page, ui_server.identity_url, approver, demo_password(approver))
            await _decide(ui, {**answer, "reason": f"{approver}: no open orders"})
        await asyncio.wait_for(handle.result(), timeout=60)
        assert ledger_effects(ledger).get("deleted") == {"C-1004": 1}, ledger_effects(ledger)
        await ui.open()
        await ui.expect_status("Completed")
        details = await ui.current_details()
        final = details.locator("body")
        await expect(final).to_contain_text(
            "ledger.delete_customer (step 1, DESTRUCTIVE): approved by alice, bob", timeout=STEP_TIMEOUT_MS
        )
        await _no_traceback(page)
        await screenshots.take(page, "approved", doc_name="ops-approved.png")


async def test_an_agent_stopped_on_its_budget_is_failed_in_the_list(
    ui_server: UiServer,
    page: Page,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    screenshots: Screenshots,
) -> None:
    """5. A task that stopped on its budget is not a green Completed in the list."""
    lookup = ("erp__get_invoice", {"invoice_id": "INV-10008"})
    scripted.play(Script(turns=[calls(lookup), calls(lookup), calls(lookup)]))
    task = {
        "goal": "Check invoice INV-10008",
        "allowed_actions": ["erp.get_invoice"],
        "budget": {"max_steps": 1},
    }
    client = ui_server.env.client
    async with demo_worker(client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await client.start_workflow(
            "AgentTask",
            AgentTaskInput.model_validate(task),
            id=f"ops-agent-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
            static_summary="Agent: Check invoice INV-10008",
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), timeout=60)
    stopped = stopped_result(failure.value)
    assert stopped is not None and stopped.status is StopReason.MAX_STEPS, stopped
    await _list(page, ui_server.url, f'WorkflowId = "{handle.id}"')
    row = page.get_by_role("row").filter(has_text=handle.id)
    await expect(row).to_contain_text("Failed", ignore_case=True, timeout=STEP_TIMEOUT_MS)
    await expect(row).not_to_contain_text("Completed", ignore_case=True)
    await screenshots.take(page, "agent-stopped")
