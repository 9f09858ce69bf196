"""Signed answers for tests: the test identity key, the pin workers verify it with, and payloads.

Every test that answers an approval or a failure request does it as a person the identity
service would have signed for (`retrofit.identity.testing.TestSigner`), at the workflow's clock
(the time-skipping server runs ahead of the wall clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from retrofit.gate.approval_models import ApprovalView
from retrofit.identity.claims import AnswerDecision
from retrofit.identity.pin import IdentityMode, IdentityPin
from retrofit.identity.testing import TestSigner

SIGNER = TestSigner()
PIN: IdentityPin = SIGNER.pin()
TRUSTED_PIN: IdentityPin = SIGNER.pin(mode=IdentityMode.TRUSTED_NAMESPACE)


async def clock(env: WorkflowEnvironment | None, view: ApprovalView) -> float:
    """The time to sign at: the server's (a time-skipping server's may be hours ahead of the
    wall clock), or without an environment the workflow's own time when it made the request."""
    if env is None:
        return view.requested_at.timestamp()
    return (await env.get_current_time()).timestamp()


async def signed(
    env: WorkflowEnvironment | None,
    workflow_id: str,
    view: ApprovalView,
    subject: str,
    decision: str,
    *,
    reason: str = "",
    groups: Iterable[str] = (),
    signer: TestSigner = SIGNER,
    **token_options: Any,
) -> dict[str, Any]:
    """A signed answer to `view` as `subject` would send it (Update `decide`, Signal
    `approve`/`reject`, or `resolve_failure` for retry/skip/abort)."""
    return signer.answer(
        subject,
        workflow_id=workflow_id,
        request_id=view.request_id,
        args_hash=view.args_hash,
        decision=cast(AnswerDecision, decision),
        reason=reason,
        groups=groups,
        now=await clock(env, view),
        **token_options,
    )


async def pending_views(client: Client, workflow_id: str) -> list[ApprovalView]:
    handle = client.get_workflow_handle(workflow_id)
    views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
    return views
