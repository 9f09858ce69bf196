"""`retrofit resolve WORKFLOW_ID REQUEST_ID retry|skip|abort` — answer an escalated failure.

An action that failed past its retry budget waits for a person when the policy says so; the
request shows in `retrofit approvals list` (kind "failure") and in the workflow's current
details. The answer goes as the `resolve_failure` Update, validated by the workflow before it is
accepted, so a refusal (unknown request, choice not offered, not allowed, no reason) comes back
at once.
"""

from __future__ import annotations

import typer
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from retrofit.cli.approval_commands import cli_identity
from retrofit.cli.output import console, fail, run_async
from retrofit.gate.failure_models import RESOLVE_FAILURE_UPDATE, ResolveFailureResult
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect


def resolve(
    workflow_id: str,
    request_id: str,
    choice: str = typer.Argument(..., help="retry | skip | abort"),
    as_: str = typer.Option(..., "--as", help="Your name, as the policy knows it."),
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
        payload = {"request_id": request_id, "approver": as_, "choice": choice, "reason": reason}
        try:
            result = await client.get_workflow_handle(workflow_id).execute_update(
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

    run_async(go())


def register(app: typer.Typer) -> None:
    app.command("resolve")(resolve)
