"""Helpers for the web front door's tests: log in through the page, sign as a demo person."""

from __future__ import annotations

import re
from typing import Any

import httpx
from temporalio.client import Client

from retrofit.gate.approval_models import DECIDE_UPDATE, ApprovalView
from tests.identity_support import pending_views


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def web_login(http: httpx.AsyncClient, name: str) -> str:
    """Log `name` in to the web app (demo password); the page's CSRF token for later posts."""
    page = await http.get("/login")
    reply = await http.post(
        "/login", data={"csrf": csrf(page.text), "login": name, "password": f"demo-{name}"}
    )
    assert reply.status_code == 303, reply.text
    return csrf((await http.get("/")).text)


async def start_assertion(identity_url: str, name: str, workflow_id: str, workflow_type: str) -> str:
    """The identity service's signed start assertion for `name` (what `retrofit start` carries)."""
    async with httpx.AsyncClient(base_url=identity_url, auth=(name, f"demo-{name}")) as http:
        reply = await http.post(
            "/identity/starts", json={"workflow_id": workflow_id, "workflow_type": workflow_type}
        )
    reply.raise_for_status()
    return str(reply.json()["assertion"])


async def approve_as(client: Client, identity_url: str, workflow_id: str, name: str) -> ApprovalView:
    """Approve the first pending request as `name`, signed by the identity service: the same
    signed Update `decide` that `retrofit approvals approve` sends."""
    view = next(v for v in await pending_views(client, workflow_id) if v.status == "pending")
    body = {
        "workflow_id": workflow_id,
        "request_id": view.request_id,
        "args_hash": view.args_hash,
        "decision": "approve",
    }
    async with httpx.AsyncClient(base_url=identity_url, auth=(name, f"demo-{name}")) as http:
        reply = await http.post("/identity/answers", json=body)
    reply.raise_for_status()
    signed: dict[str, Any] = reply.json()
    payload = {**body, "reason": "", "assertion": signed["assertion"], "approver": signed["subject"]}
    await client.get_workflow_handle(workflow_id).execute_update(DECIDE_UPDATE, payload)
    return view
