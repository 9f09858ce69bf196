"""`retrofit resolve WORKFLOW_ID REQUEST_ID retry|skip|abort` — answer an escalated failure.

An action that failed past its retry budget waits for a person when the policy says so; the
request shows in `retrofit approvals list` (kind "failure") and in the workflow's current
details. The answer goes as the `resolve_failure` Update, validated by the workflow before it is
accepted, so a refusal (unknown request, choice not offered, not allowed, no reason) comes back
at once. Like every answer it carries the identity service's assertion, bound to the request, its
argument hash and the choice (`--as NAME` logs in as NAME).
"""

from __future__ import annotations

import typer
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from retrofit.cli.approval_commands import cli_identity
from retrofit.cli.identity_client import IdentityClient, IdentityError
from retrofit.cli.output import console, fail, run_async
from retrofit.gate.approval_models import PENDING_QUERY, ApprovalView
from retrofit.gate.failure_models import RESOLVE_FAILURE_UPDATE, ResolveFailureResult
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect


def resolve(
    workflow_id: str,
    request_id: str,
    choice: str = typer.Argument(..., help="retry | skip | abort"),
    as_: str | None = typer.Option(
        None, "--as", help="Log in as this user (default: the `retrofit login` session)."
    ),
    reason: str = typer.Option("", "--reason", help="Why (required for skip and abort; audited)."),
) -> None:
    """Resolve an action that failed past its retry budget: retry it, skip it, or abort."""
    if choice not in ("retry", "skip", "abort"):
        fail(f"choice must be retry, skip or abort (got {choice!r})")
    if choice != "retry" and not reason.strip():
        fail(f"{choice} needs a reason (--reason)")

    async def go() -> None:
        settings = RetrofitSettings()
        client = await connect(settings, identity=cli_identity())
        handle = client.get_workflow_handle(workflow_id)
        try:
            views = await handle.query(PENDING_QUERY, result_type=list[ApprovalView])
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                fail(f"no running workflow {workflow_id!r} in namespace {settings.temporal_namespace}")
            raise
        view = next((v for v in views if v.request_id == request_id and v.kind == "failure"), None)
        if view is None:
            waiting = ", ".join(v.request_id for v in views if v.kind == "failure") or "none"
            fail(f"no failed action waiting as {request_id!r} in {workflow_id} (waiting: {waiting})")
            return
        if view.outcome_note:
            console.print(f"[yellow]{view.action}: {view.outcome_note}[/]")
        signed = await IdentityClient(settings, as_).answer(workflow_id, request_id, view.args_hash, choice)
        payload = {
            "workflow_id": workflow_id,
            "request_id": request_id,
            "choice": choice,
            "args_hash": view.args_hash,
            "reason": reason,
            "assertion": signed.assertion,
            "approver": signed.subject,
        }
        try:
            result = await handle.execute_update(
                RESOLVE_FAILURE_UPDATE, payload, result_type=ResolveFailureResult
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            fail(f"refused: {cause.message if isinstance(cause, ApplicationError) else cause}")
            return
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                fail(f"no running workflow {workflow_id!r} in namespace {settings.temporal_namespace}")
            raise
        console.print(f"[green]{result.request_id}: {result.choice}[/] (by {result.resolved_by})")
        if result.outcome_note:
            # Never let "skip" read as "nothing happened" when the write may have landed.
            console.print(f"[yellow]{result.outcome_note}[/]")

    run_async(go(), IdentityError)


def register(app: typer.Typer) -> None:
    app.command("resolve")(resolve)
