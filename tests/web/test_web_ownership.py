"""'My runs' shows a run to its verified starter, read from the run's signed start, and to nobody
else: not another person, not a raw start that claims the starter in memo or search attributes,
not a start replaying someone's assertion for another workflow id."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from retrofit.embedded.stack import embedded_stack
from retrofit.identity.starter_header import StarterHeaderInterceptor
from retrofit.settings import RetrofitSettings
from retrofit.web.app import build_app
from tests.web.support import csrf, start_assertion, web_login

STARTED_BY = SearchAttributeKey.for_keyword("RetrofitStartedBy")
NO_CHANGE = {"customer_id": "C-1001", "utilisation_threshold": "1"}  # finishes with no approval


async def _done(client: Client, workflow_id: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(120):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{workflow_id} did not complete")


def _with_header(client: Client, token: str) -> Client:
    config = client.config()
    config["interceptors"] = [*config["interceptors"], StarterHeaderInterceptor(lambda _id, _t: token)]
    return Client(**config)


@pytest.mark.devserver
async def test_my_runs_by_the_verified_starter_only(tmp_path: Path) -> None:
    settings = RetrofitSettings(data_dir=tmp_path / "data", audit_db_url=f"sqlite:///{tmp_path}/audit.db")
    async with embedded_stack(settings, demo=True, ephemeral=True) as stack:
        client, queue = stack.client, stack.settings.task_queue
        app = build_app(stack.settings, client=client)
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as carol,
            httpx.AsyncClient(transport=transport, base_url="http://t") as dave,
        ):
            token = await web_login(carol, "carol")
            started = await carol.post("/start/wf:CreditLimitReview", data={"csrf": token, **NO_CHANGE})
            assert started.status_code == 303, started.text
            mine = started.headers["location"].rsplit("/", 1)[1]
            await _done(client, mine)
            desc = await client.get_workflow_handle(mine).describe()
            # No approval ever waited: the workflow never set the attribute (as if unregistered).
            assert desc.typed_search_attributes.get(STARTED_BY) is None

            # Forgeries, each started raw against the same worker:
            forged: list[str] = []
            # 1. memo and search attribute claim carol; no signed start.
            wid = f"forged-memo-{uuid.uuid4().hex[:8]}"
            await client.start_workflow(
                "CreditLimitReview",
                NO_CHANGE,
                id=wid,
                task_queue=queue,
                memo={"started_by": "carol"},
                search_attributes=TypedSearchAttributes([SearchAttributePair(STARTED_BY, "carol")]),
            )
            forged.append(wid)
            # 2. carol's genuine assertion, signed for another workflow id, replayed on this one.
            other = await start_assertion(stack.identity_url, "carol", "some-other-id", "CreditLimitReview")
            wid = f"forged-replay-{uuid.uuid4().hex[:8]}"
            await _with_header(client, other).start_workflow(
                "CreditLimitReview", NO_CHANGE, id=wid, task_queue=queue
            )
            forged.append(wid)
            # 3. a header that is not an assertion at all.
            wid = f"forged-garbage-{uuid.uuid4().hex[:8]}"
            await _with_header(client, "carol").start_workflow(
                "CreditLimitReview", NO_CHANGE, id=wid, task_queue=queue
            )
            forged.append(wid)
            for wid in forged:
                await _done(client, wid)

            runs = await carol.get("/runs")
            assert runs.status_code == 200 and mine in runs.text
            for wid in forged:
                assert wid not in runs.text
                assert (await carol.get(f"/runs/{wid}")).status_code == 404
            page = await carol.get(f"/runs/{mine}")
            assert page.status_code == 200 and "done" in page.text
            status: dict[str, Any] = (await carol.get(f"/runs/{mine}/status.json")).json()
            assert status["status"] == "done" and status["result"]["customer_id"] == "C-1001"

            # Another logged-in person sees none of it.
            await web_login(dave, "dave")
            assert (await dave.get(f"/runs/{mine}")).status_code == 404
            assert (await dave.get(f"/runs/{mine}/status.json")).status_code == 404
            assert mine not in (await dave.get("/runs")).text
            assert csrf((await dave.get("/")).text)
