"""The web front door over HTTP against a real embedded stack (Temporal + identity service)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from retrofit.embedded.stack import embedded_stack
from retrofit.settings import RetrofitSettings
from retrofit.web.app import build_app


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def _login(http: httpx.AsyncClient, name: str) -> None:
    page = await http.get("/login")
    reply = await http.post(
        "/login", data={"csrf": _csrf(page.text), "login": name, "password": f"demo-{name}"}
    )
    assert reply.status_code == 303, reply.text


@pytest.mark.devserver
async def test_front_door_login_csrf_forms_and_ownership(tmp_path: Path) -> None:
    settings = RetrofitSettings(data_dir=tmp_path / "data", audit_db_url=f"sqlite:///{tmp_path}/audit.db")
    async with embedded_stack(settings, demo=True, ephemeral=True) as stack:
        app = build_app(stack.settings, client=stack.client)
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as alice,
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as carol,
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon,
        ):
            # Login required; a POST without a session is refused and starts nothing.
            assert (await anon.get("/")).status_code == 303
            page = await anon.get("/login")
            assert "script-src 'self'" in page.headers["content-security-policy"]
            forged = await anon.post(
                "/start/wf:CreditLimitReview", data={"csrf": _csrf(page.text), "customer_id": "C-1001"}
            )
            assert forged.status_code == 401

            await _login(alice, "alice")
            catalog = await alice.get("/")
            assert "CreditLimitReview" in catalog.text and "wf:AgentTask" not in catalog.text
            form = await alice.get("/start/wf:CreditLimitReview")
            token = _csrf(form.text)

            # CSRF: a missing or wrong token is refused.
            assert (
                await alice.post("/start/wf:CreditLimitReview", data={"customer_id": "C-1001"})
            ).status_code == 403
            bad_token = {"csrf": "x" * 43, "customer_id": "C-1001"}
            assert (await alice.post("/start/wf:CreditLimitReview", data=bad_token)).status_code == 403
            # Not in the catalog (the raw AgentTask too).
            assert (await alice.post("/start/wf:AgentTask", data={"csrf": token})).status_code == 404

            # Bad input: refused next to the field, nothing started.
            bad = await alice.post(
                "/start/wf:CreditLimitReview",
                data={"csrf": token, "customer_id": "C-1001", "increase_percent": "500"},
            )
            assert bad.status_code == 400 and "nothing was started" in bad.text
            extra = await alice.post(
                "/start/wf:CreditLimitReview", data={"csrf": token, "customer_id": "C-1001", "policy": "{}"}
            )
            assert extra.status_code == 400
            before = [wf async for wf in stack.client.list_workflows("WorkflowId STARTS_WITH 'web-'")]
            assert before == []

            started = await alice.post(
                "/start/wf:CreditLimitReview", data={"csrf": token, "customer_id": "C-1001"}
            )
            assert started.status_code == 303, started.text
            run_url = started.headers["location"]
            workflow_id = run_url.rsplit("/", 1)[1]
            desc = await stack.client.get_workflow_handle(workflow_id).describe()
            assert await desc.static_summary() == "CreditLimitReview for C-1001, started by alice on the web"

            assert (await carol.get(run_url)).status_code == 303  # carol: not logged in yet
            await _login(carol, "carol")
            assert (await carol.get(run_url)).status_code == 404
            assert (await carol.get(f"{run_url}/status.json")).status_code == 404
