"""The embedded stack (`retrofit dev --demo`) runs in verified mode: the identity + codec server is
up, the dev server's Web UI points its codec endpoint at it, the worker pins its key, and a demo
user's signed answer approves while an unsigned one is refused."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from retrofit.embedded.stack import embedded_stack
from retrofit.gate.approval_models import ApprovalView, DecideResult
from retrofit.identity.keys import identity_pin
from retrofit.settings import RetrofitSettings


@pytest.mark.devserver
async def test_dev_stack_is_verified_and_the_ui_points_at_the_identity_server(tmp_path: Path) -> None:
    settings = RetrofitSettings(data_dir=tmp_path / "data", audit_db_url=f"sqlite:///{tmp_path}/audit.db")
    async with embedded_stack(settings, demo=True, ephemeral=True) as stack:
        assert stack.identity_url.startswith("http://localhost:")
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{stack.identity_url}/health")).text == "ok"
            ui_settings = (await http.get(f"{stack.ui_url}/api/v1/settings")).json()
            assert ui_settings["Codec"]["Endpoint"] == stack.identity_url
            assert stack.ui_url in stack.settings.codec_cors_origins.split(",")
            pin = identity_pin(stack.settings)
            assert pin.mode.value == "verified" and pin.login_url == f"{stack.identity_url}/login"

            wf_id = f"embedded-{uuid.uuid4().hex[:8]}"
            handle = await stack.client.start_workflow(
                "SingleAction",
                {
                    "action": "ledger.set_credit_limit",
                    "arguments": {"customer_id": "C-1002", "credit_limit": "1"},
                },
                id=wf_id,
                task_queue=stack.settings.task_queue,
            )
            view: ApprovalView | None = None
            for _ in range(200):
                views = await handle.query("pending_approvals", result_type=list[ApprovalView])
                if views:
                    view = views[0]
                    break
                await asyncio.sleep(0.05)
            assert view is not None and view.login_url == pin.login_url
            answer = {
                "workflow_id": wf_id,
                "request_id": view.request_id,
                "args_hash": view.args_hash,
                "decision": "approve",
            }
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    "decide", {**answer, "approver": "alice"}, result_type=DecideResult
                )
            assert isinstance(refused.value.cause, ApplicationError)
            assert "no signed identity" in refused.value.cause.message
            basic = base64.b64encode(b"alice:demo-alice").decode()
            signed = await http.post(
                f"{stack.identity_url}/identity/answers",
                json=answer,
                headers={"Authorization": f"Basic {basic}"},
            )
            assert signed.status_code == 200, signed.text
            result = await handle.execute_update(
                "decide", {**answer, "assertion": signed.json()["assertion"]}, result_type=DecideResult
            )
            assert result.status.value == "approved" and result.approved_by == ["alice"]
            await asyncio.wait_for(handle.result(), timeout=60)
