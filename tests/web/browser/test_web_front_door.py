"""The web front door in a real browser (Debian's Chromium via Playwright), against the embedded
stack (Temporal + its Web UI, the identity service, the demo systems, a worker) and the scripted
model server: a business user logs in, starts CreditLimitReview from the generated form, sees it
wait for finance, finance approves in the Temporal UI, the user sees it done; a bad input is
refused next to the field and nothing starts; template agent tasks answer or stop on budget."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest
from pydantic import SecretStr
from temporalio.client import WorkflowExecutionStatus

from retrofit.cli.web_commands import serve_web
from retrofit.embedded.stack import RunningStack, embedded_stack
from retrofit.llm.scripted_server import Script, ScriptedModelServer
from retrofit.llm.settings import LlmSettings
from retrofit.settings import RetrofitSettings
from tests.browser.browser_env import DOC_SCREENSHOTS, REPO, UPDATE_DOCS_ENV
from tests.identity_support import pending_views
from tests.web.support import approve_as

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = [pytest.mark.devserver, pytest.mark.browser]

ANSWER = "Two invoices are overdue; the largest is INV-10014 (60,000.00 SEK)."
SCRIPT = Script.model_validate(
    {
        "model": "web-scripted",
        "turns": [
            {
                "tool_calls": [
                    {"name": "erp__list_invoices", "arguments": {"overdue_only": True, "page_size": 100}}
                ]
            },
            {"content": ANSWER},
        ],
    }
)
TEMPLATES = """
[[template]]
name = "overdue-summary"
title = "Summarise the overdue invoices"
description = "Read-only: the agent reads the overdue invoices in the ERP and summarises them."
goal = "Summarise the overdue invoices in the ERP, largest first. Focus: {focus}."
allowed_actions = ["erp.list_invoices"]
budget = { max_steps = 4 }
[template.blanks.focus]
type = "enum"
label = "Focus"
choices = ["amounts", "customers"]
default = "amounts"

[[template]]
name = "overdue-summary-tight"
title = "Summarise the overdue invoices (one step)"
description = "The same task with a budget of one model turn: it stops on budget."
goal = "Summarise the overdue invoices in the ERP, largest first. Focus: {focus}."
allowed_actions = ["erp.list_invoices"]
budget = { max_steps = 1 }
[template.blanks.focus]
type = "enum"
label = "Focus"
choices = ["amounts", "customers"]
default = "amounts"
"""
TIMEOUT_MS = 30_000


@dataclass
class FrontDoor:
    stack: RunningStack
    url: str


@pytest.fixture(scope="module")
async def front_door(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FrontDoor]:
    tmp = tmp_path_factory.mktemp("web-browser")
    templates = tmp / "templates.toml"
    templates.write_text(TEMPLATES, encoding="utf-8")
    with ScriptedModelServer(SCRIPT) as model:
        llm = LlmSettings(
            base_url=model.base_url, model=SCRIPT.model, api_key=SecretStr("retrofit-scripted-key")
        )
        settings = RetrofitSettings(
            data_dir=tmp / "data",
            audit_db_url=f"sqlite:///{tmp}/audit.db",
            task_templates_file=templates,
            policy_file=REPO / "examples" / "policy.toml",  # writes wait for finance
        )
        async with (
            embedded_stack(settings, demo=True, ephemeral=True, llm=llm) as stack,
            serve_web(stack.settings, stack.client, port=0) as url,
        ):
            yield FrontDoor(stack, url)


async def _shot(page: Page, name: str) -> None:
    """Saved into docs/screenshots/ with RETROFIT_UPDATE_DOC_SCREENSHOTS=1 (as tests/browser does)."""
    path = Path(os.environ.get("RETROFIT_UI_ARTIFACTS", "/tmp")) / name
    await page.screenshot(path=str(path), full_page=False)
    if os.environ.get(UPDATE_DOCS_ENV) == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / name)


async def _log_in(browser: Browser, door: FrontDoor, name: str) -> Page:
    context = await browser.new_context(viewport={"width": 900, "height": 640})
    page = await context.new_page()
    await page.goto(f"{door.url}/")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(f"demo-{name}")
    await page.get_by_label("Password").press("Enter")  # keyboard-submittable
    await page.get_by_role("heading", name="What you can start").wait_for(timeout=TIMEOUT_MS)
    return page


async def _web_runs(door: FrontDoor) -> list[str]:
    return [wf.id async for wf in door.stack.client.list_workflows("WorkflowId STARTS_WITH 'web-'")]


async def test_bad_input_is_refused_next_to_the_field_and_nothing_starts(
    front_door: FrontDoor, browser: Browser
) -> None:
    from playwright.async_api import expect

    page = await _log_in(browser, front_door, "carol")
    before = await _web_runs(front_door)
    await page.goto(f"{front_door.url}/start/wf:CreditLimitReview")
    await page.get_by_label("Customer Id").fill("C-1003")
    await page.get_by_label("Increase Percent").fill("500")
    await page.get_by_role("button", name="Start").click()
    # The browser's check: the message sits right after the field, the field has focus.
    message = page.locator("#f-increase_percent + p.error")
    await expect(message).not_to_be_empty(timeout=TIMEOUT_MS)
    await expect(page.get_by_label("Increase Percent")).to_be_focused()
    # The server's check: the same bad value posted without the browser's check.
    # form.submit() skips the submit event and the browser's validation, as a script-less client.
    await page.locator("form[data-validate]").evaluate("f => f.submit()")
    await expect(page.get_by_role("alert").first).to_contain_text("nothing was started", timeout=TIMEOUT_MS)
    await expect(page.locator("#f-increase_percent-error")).to_contain_text("100", timeout=TIMEOUT_MS)
    await _shot(page, "web-form-error.png")
    assert await _web_runs(front_door) == before
    await page.context.close()


async def test_business_user_starts_a_review_finance_approves_in_the_temporal_ui(
    front_door: FrontDoor, browser: Browser
) -> None:
    from playwright.async_api import expect

    from tests.browser.temporal_ui import WorkflowPage, apply_codec_settings, configure_codec_server, log_in

    stack = front_door.stack
    page = await _log_in(browser, front_door, "carol")
    await _shot(page, "web-catalog.png")
    await page.get_by_role("link", name="CreditLimitReview").click()
    await page.get_by_label("Customer Id").fill("C-1003")
    await page.get_by_label("Customer Id").press("Enter")
    status = page.locator('[data-field="status"]')
    await expect(status).to_contain_text("waiting for approval by finance since", timeout=TIMEOUT_MS)
    await expect(status).to_contain_text("ledger.set_credit_limit")
    await _shot(page, "web-run-waiting.png")
    workflow_id = page.url.rsplit("/", 1)[1]

    # Finance (bob, verified by the identity service) approves in the Temporal UI: the signed
    # Update `decide`, as tests/browser drives it.
    ops = await browser.new_context(viewport={"width": 1400, "height": 1000})
    ui_page = await ops.new_page()
    await log_in(ui_page, stack.identity_url, "bob", "demo-bob")
    await configure_codec_server(ui_page, stack.ui_url, stack.identity_url)
    await apply_codec_settings(ui_page)
    view = next(v for v in await pending_views(stack.client, workflow_id) if v.status == "pending")
    ui = WorkflowPage(ui_page, stack.ui_url, workflow_id)
    await ui.open()
    answer = {
        "workflow_id": workflow_id,
        "request_id": view.request_id,
        "decision": "approve",
        "args_hash": view.args_hash,
        "reason": "approved in the UI",
    }
    await ui.submit(await ui.open_update_form("decide", answer))
    await ui.expect_toast("Update successful")
    await ops.close()

    # A limit over 100,000 needs a second finance approval (examples/policy.toml): alice's, by
    # the same signed Update the CLI sends.
    handle = stack.client.get_workflow_handle(workflow_id)
    for _ in range(40):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            break
        pending = [v for v in await pending_views(stack.client, workflow_id) if v.status == "pending"]
        if pending and "alice" not in pending[0].approved_by:
            await approve_as(stack.client, stack.identity_url, workflow_id, "alice")
        await asyncio.sleep(0.25)

    # Live: the page updates itself, no reload.
    await expect(status).to_have_text("done", timeout=TIMEOUT_MS)
    outcome = await stack.client.get_workflow_handle(workflow_id).result()
    # The result in words, from the output model's fields.
    new_limit = page.locator("dl.result dt", has_text="New limit").locator("xpath=following-sibling::dd[1]")
    await expect(new_limit).to_have_text(str(outcome["new_limit"]), timeout=TIMEOUT_MS)
    await _shot(page, "web-run-done.png")
    await page.goto(f"{front_door.url}/runs")
    await expect(page.get_by_text(workflow_id)).to_be_visible()
    await page.context.close()


async def test_template_agent_tasks_answer_or_stop_on_budget(front_door: FrontDoor, browser: Browser) -> None:
    from playwright.async_api import expect

    page = await _log_in(browser, front_door, "carol")
    await page.get_by_role("link", name="Summarise the overdue invoices", exact=True).click()
    await page.get_by_role("button", name="Start").click()
    await expect(page.locator('[data-field="status"]')).to_have_text("done", timeout=TIMEOUT_MS)
    await expect(page.locator(".answer")).to_have_text(ANSWER, timeout=TIMEOUT_MS)
    await expect(page.locator('[data-field="progress"]')).to_contain_text("Agent: turn 2 of 4")

    await page.goto(f"{front_door.url}/")
    await page.get_by_role("link", name="Summarise the overdue invoices (one step)").click()
    await page.get_by_role("button", name="Start").click()
    await expect(page.locator('[data-field="status"]')).to_have_text(
        "stopped on budget (steps)", timeout=TIMEOUT_MS
    )
    await page.context.close()


# Every visible control has a label; the page fits a phone (no sideways scrolling); the scheme
# follows the system's.
_UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]),select,textarea,button')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
  .map(el => el.outerHTML)"""


async def test_accessibility_basics(front_door: FrontDoor, browser: Browser) -> None:
    page = await _log_in(browser, front_door, "carol")
    paths = ["/", "/runs"] + [
        str(await link.get_attribute("href")) for link in await page.locator("ul.cards a").all()
    ]
    assert "/start/wf:CreditLimitReview" in paths and "/start/tpl:overdue-summary" in paths
    schemes: list[tuple[Literal["light", "dark"], str]] = [
        ("light", "rgb(255, 255, 255)"),
        ("dark", "rgb(18, 18, 18)"),
    ]
    for scheme, background in schemes:
        context = await browser.new_context(
            viewport={"width": 375, "height": 700},
            color_scheme=scheme,
            storage_state=await page.context.storage_state(),  # carol's session
        )
        phone = await context.new_page()
        for path in ["/login", *paths]:
            await phone.goto(f"{front_door.url}{path}")
            assert await phone.evaluate(_UNLABELLED) == [], path
            assert await phone.locator('meta[name="viewport"]').get_attribute("content") == (
                "width=device-width, initial-scale=1"
            )
            fits = await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert fits, f"{path} scrolls sideways on a phone"
            assert await phone.evaluate("getComputedStyle(document.body).backgroundColor") == background
        await context.close()
    # Keyboard only: Tab to the link, Enter, fill, Enter submits.
    await page.goto(f"{front_door.url}/")
    await page.keyboard.press("Tab")  # the skip link first
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await page.context.close()
