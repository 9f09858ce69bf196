"""An MCP client's WRITE, approved in the Temporal Web UI: the issue's whole story in a real browser.

alice's MCP client calls `ledger__set_credit_limit` over streamable HTTP; the call stays open
and its progress names the request and the UI link. Following that link in Chromium, alice
herself (logged in at the identity service) sends the `decide` Update and the workflow refuses
her — she started it; bob logs in and sends the same answer; the MCP call returns the new
credit limit. Screenshots of each step are saved with the other browser tests'.

Skipped where Playwright or /usr/bin/chromium is missing (as tests/browser)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from legacy.ledger.server import LedgerServer
from retrofit.cli.identity_client import IdentityClient
from retrofit.embedded.identity_server import demo_password
from retrofit.settings import RetrofitSettings
from tests.browser.browser_env import CHROMIUM, Screenshots, UiServer
from tests.browser.temporal_ui import (
    STEP_TIMEOUT_MS,
    WorkflowPage,
    apply_codec_settings,
    configure_codec_server,
    log_in,
)
from tests.mcp.serving.stack import call_waiting, mcp_http
from tests.support import audit_of, ledger_effects, ledger_worker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: run .ci/install-browser"),
]
_ANSWER_JSON = re.compile(r"Update decide with input (\{[^}]*\})")
_LINK = re.compile(r"(http://\S+/workflows/mcp-\S+)")


async def test_an_mcp_write_waits_for_an_approval_given_in_the_temporal_ui(
    ui_server: UiServer,
    page: Page,
    ledger: LedgerServer,
    audit_url: str,
    screenshots: Screenshots,
    tmp_path: Path,
) -> None:
    assert ui_server.pin is not None
    client = ui_server.env.client
    login = RetrofitSettings(identity_url=ui_server.identity_url)
    alice = (await IdentityClient(login).open_session("alice", demo_password("alice")))["session"]
    async with ledger_worker(client, ledger, audit_url, identity=ui_server.pin) as worker:
        settings = RetrofitSettings(
            temporal_address=client.service_client.config.target_host,
            task_queue=worker.task_queue,
            identity_url=ui_server.identity_url,
            ui_url=ui_server.url,
            data_dir=tmp_path / "serve",
        )
        async with mcp_http(settings, client, ["ledger.set_credit_limit"]) as server:
            task, messages, wf_id = await call_waiting(
                lambda: server.client(alice),
                "ledger__set_credit_limit",
                {"customer_id": "C-1005", "credit_limit": 42000},
            )
            link = _LINK.search(messages[0])
            assert link, messages
            assert link.group(1) == f"{ui_server.url}/namespaces/default/workflows/{wf_id}"

            # The person follows the link from the progress message.
            await log_in(page, ui_server.identity_url, "alice", demo_password("alice"))
            await configure_codec_server(page, ui_server.url, ui_server.identity_url)
            await apply_codec_settings(page)
            ui = WorkflowPage(page, ui_server.url, wf_id)
            await ui.open()
            assert page.url.startswith(link.group(1))
            await ui.expect_status("Running")
            details = await ui.current_details()
            # The summary says what this is and who asked, on the tab that shows what waits.
            # The summary (markdown, in its own frame) says what this is and who asked.
            summary = page.frame_locator("iframe#user-metadata-summary").locator("body")
            await expect(summary).to_contain_text(
                "ledger.set_credit_limit called over MCP by alice", timeout=STEP_TIMEOUT_MS
            )
            body = details.locator("body")
            await expect(body).to_contain_text(
                "Answer in this UI: Update decide with input", timeout=STEP_TIMEOUT_MS
            )
            await expect(body).to_contain_text("alice", timeout=STEP_TIMEOUT_MS)  # the verified starter
            match = _ANSWER_JSON.search(await body.inner_text())
            assert match
            answer: dict[str, Any] = json.loads(match.group(1))
            await screenshots.take(page, "mcp-call-waiting")

            # alice, who made the call, may not approve it: the Update is refused in the dialog.
            dialog = await ui.open_update_form("decide", answer)
            await dialog.get_by_role("button", name="Submit").click(timeout=STEP_TIMEOUT_MS)
            await expect(dialog).to_contain_text("may not answer its own request", timeout=STEP_TIMEOUT_MS)
            await screenshots.take(page, "caller-refused")
            await dialog.get_by_test_id("cancel-modal-button").click(timeout=STEP_TIMEOUT_MS)
            assert not task.done()

            # bob approves the same request.
            await log_in(page, ui_server.identity_url, "bob", demo_password("bob"))
            await ui.open()
            dialog = await ui.open_update_form("decide", {**answer, "reason": "checked, fine"})
            await ui.submit(dialog)
            await ui.expect_toast("Update successful")

            result = await asyncio.wait_for(task, timeout=60)
            assert not result.is_error, result.content
            assert isinstance(result.structured_content, dict)
            assert float(result.structured_content["credit_limit"]) == 42000
            assert ledger_effects(ledger)["credit_limit"] == {"C-1005": 1}
            await ui.expect_status("Completed")
            await screenshots.take(page, "mcp-call-approved")

    records = await audit_of(audit_url, wf_id)
    [granted] = [r for r in records if r.kind.value == "approval.granted"]
    assert granted.actor.name == "bob" and granted.data["via"] == "update:decide"
    assert any(r.kind.value == "approval.refused" for r in records)
