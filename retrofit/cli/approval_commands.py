"""`retrofit approvals ...` — the ops door besides the Temporal Web UI.

Answers go as the same `decide` Update the UI can send (validated by the workflow before it is
accepted, so a refusal comes back at once), or as the `approve` / `reject` Signal with `--signal`.
Every answer carries an assertion from the identity service (`retrofit.cli.identity_client`),
bound to the workflow, the request, the exact argument hash shown and the decision: `--as NAME`
logs in as NAME (password from a prompt or RETROFIT_IDENTITY_PASSWORD), it never claims a name.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from retrofit.cli.identity_client import IdentityClient, IdentityError
from retrofit.cli.output import console, err_console, fail, run_async
from retrofit.gate.approval_models import (
    APPROVE_SIGNAL,
    DECIDE_UPDATE,
    PENDING_QUERY,
    REJECT_SIGNAL,
    ApprovalView,
    DecideResult,
)
from retrofit.redaction import summarize
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect

app = typer.Typer(help="List and answer pending approvals (ops).", no_args_is_help=True)

_QUERY_CONCURRENCY = 20
_AS_HELP = (
    "Log in as this user for this answer (password from a prompt or RETROFIT_IDENTITY_PASSWORD); "
    "default: the `retrofit login` session. The identity service must verify it is you."
)


def cli_identity() -> str:
    return f"retrofit-cli:{getpass.getuser()}@{socket.gethostname()}"


async def _client() -> Client:
    return await connect(RetrofitSettings(), identity=cli_identity())


async def _pending(client: Client, workflow_id: str) -> list[ApprovalView]:
    try:
        views = await client.get_workflow_handle(workflow_id).query(
            PENDING_QUERY, result_type=list[ApprovalView]
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            fail(f"no workflow {workflow_id!r} in namespace {RetrofitSettings().temporal_namespace}")
        raise
    return list(views)


async def _all_pending(client: Client) -> list[tuple[str, ApprovalView]]:
    limit = asyncio.Semaphore(_QUERY_CONCURRENCY)

    async def one(workflow_id: str) -> list[tuple[str, ApprovalView]]:
        async with limit:
            try:
                views = await client.get_workflow_handle(workflow_id).query(
                    PENDING_QUERY, result_type=list[ApprovalView]
                )
            except (RPCError, Exception):
                # Not a Retrofit workflow, or it finished between listing and querying.
                return []
        return [(workflow_id, v) for v in views]

    ids = [wf.id async for wf in client.list_workflows('ExecutionStatus = "Running"')]
    found = await asyncio.gather(*(one(i) for i in ids))
    return [row for rows in found for row in rows]


@app.command("list")
def list_pending(
    workflow: str | None = typer.Option(None, "--workflow", "-w", help="Only this workflow id."),
    as_json: bool = typer.Option(
        False, "--json", help="JSON: one object per request, full argument hash (for --reviewed)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="With --json: write to this file (`approve --all --reviewed FILE`)."
    ),
) -> None:
    """Every approval request waiting, across running workflows (or one workflow)."""

    async def go() -> None:
        client = await _client()
        rows = (
            [(workflow, v) for v in await _pending(client, workflow)]
            if workflow
            else await _all_pending(client)
        )
        if as_json:
            text = json.dumps([_reviewable(wf_id, v) for wf_id, v in rows], indent=2)
            if output is None:
                print(text)
            else:
                await asyncio.to_thread(output.write_text, text + "\n", encoding="utf-8")
                err_console.print(f"wrote {len(rows)} request(s) to {output}")
            return
        if not rows:
            console.print("no pending approvals" + (f" in {workflow}" if workflow else ""))
            return
        table = Table(title="Pending approvals")
        for col in (
            "workflow",
            "request",
            "action",
            "arguments",
            "requested at (UTC)",
            "deadline (UTC)",
            "approvals",
            "who may approve",
            "hash",
        ):
            table.add_column(col, overflow="fold")
        for wf_id, v in rows:
            table.add_row(
                wf_id,
                v.request_id + (f" (failed: {'/'.join(v.choices)})" if v.kind == "failure" else ""),
                # The effect says what approving does; a failed write says whether it may have landed.
                f"{v.action} [{v.effect.upper()}]" + (f"\n{v.outcome_note}" if v.outcome_note else ""),
                summarize(v.arguments, 60),
                v.requested_at.strftime("%Y-%m-%d %H:%M:%S"),
                v.deadline.strftime("%Y-%m-%d %H:%M:%S") + (" (escalated)" if v.escalated else ""),
                f"{len(v.approved_by)}/{v.approvers_needed}"
                + (f" ({', '.join(v.approved_by)})" if v.approved_by else ""),
                ", ".join(v.may_approve) or "anyone",
                v.args_hash[:12],
            )
        console.print(table)

    run_async(go())


def _reviewable(workflow_id: str, view: ApprovalView) -> dict[str, Any]:
    """What a person reviews before a bulk approval: `--reviewed` approves exactly these pairs."""
    return {
        "workflow_id": workflow_id,
        "request_id": view.request_id,
        "kind": view.kind,
        "action": view.action,
        "effect": view.effect,
        "arguments": view.arguments,  # redacted by the workflow
        "args_hash": view.args_hash,
        "approvals": f"{len(view.approved_by)}/{view.approvers_needed}",
        "started_by": view.started_by,
        "outcome_note": view.outcome_note,  # failure requests: what is known of the write's effect
    }


def signed_payload(
    workflow_id: str, view: ApprovalView, decision: str, reason: str, signed: Any
) -> dict[str, Any]:
    """The wire shape of an answer (identity contract): bound, signed, the label untrusted."""
    return {
        "workflow_id": workflow_id,
        "request_id": view.request_id,
        "decision": decision,
        "args_hash": view.args_hash,
        "reason": reason,
        "assertion": signed.assertion,
        "approver": signed.subject,
    }


def _answer(
    workflow_id: str, request_id: str, login_as: str | None, reason: str, decision: str, via_signal: bool
) -> None:
    async def go() -> None:
        client = await _client()
        views = {v.request_id: v for v in await _pending(client, workflow_id)}
        view = views.get(request_id)
        if view is None or view.kind != "approval":
            # An answer is signed over the argument hash the workflow shows for a pending request;
            # a request that is not pending (unknown, decided, a failure) has none to sign.
            hint = " (a failed action: use `retrofit resolve`)" if view is not None else ""
            fail(
                f"no pending approval request {request_id!r} in {workflow_id}{hint} "
                f"(pending: {', '.join(views) or 'none'})"
            )
            return
        console.print(
            f"{decision} {view.action} {summarize(view.arguments, 200)} (hash {view.args_hash[:12]})"
        )
        # Bind the answer to the arguments shown above: if they differ, the workflow refuses.
        signed = await IdentityClient(RetrofitSettings(), login_as).answer(
            workflow_id, request_id, view.args_hash, decision
        )
        payload = signed_payload(workflow_id, view, decision, reason, signed)
        handle = client.get_workflow_handle(workflow_id)
        if via_signal:
            await handle.signal(APPROVE_SIGNAL if decision == "approve" else REJECT_SIGNAL, payload)
            console.print("signal sent; a refused signal is recorded in the audit trail, not answered here")
            return
        try:
            result = await handle.execute_update(DECIDE_UPDATE, payload, result_type=DecideResult)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            fail(f"refused: {cause.message if isinstance(cause, ApplicationError) else cause}")
            return
        console.print(
            f"[green]{request_id}: {result.status.value}[/] as {signed.subject} "
            f"({len(result.approved_by)}/{result.approvers_needed} approvals: {', '.join(result.approved_by) or '-'})"
        )

    run_async(go(), IdentityError)


@app.command()
def approve(
    workflow_id: str | None = typer.Argument(None, help="The workflow (not with --all)."),
    request_id: str | None = typer.Argument(None, help="The request, e.g. apr-2 (not with --all)."),
    as_: str | None = typer.Option(None, "--as", help=_AS_HELP),
    reason: str = typer.Option("", "--reason", help="Why (recorded in the audit trail)."),
    signal: bool = typer.Option(
        False, "--signal", help="Send the approve Signal instead of the decide Update."
    ),
    all_: bool = typer.Option(
        False, "--all", help="Every pending request of every running workflow of --workflow-type."
    ),
    workflow_type: str | None = typer.Option(
        None, "--workflow-type", help="With --all: the workflow type whose requests to approve."
    ),
    reviewed: Path | None = typer.Option(
        None,
        "--reviewed",
        help="With --all, non-interactively: approve only the request/hash pairs in this file "
        "(written by `retrofit approvals list --json -o FILE`).",
    ),
) -> None:
    """Approve one pending request, or with --all the requests of one workflow type that you
    have seen: each is shown and confirmed, or listed in a --reviewed file."""
    if all_:
        if workflow_id or request_id or signal:
            fail("--all takes no WORKFLOW_ID/REQUEST_ID and no --signal")
        if not workflow_type:
            fail("--all needs --workflow-type (approving every workflow's requests at once is not offered)")
        assert workflow_type is not None
        approve_all(workflow_type, as_, reason, reviewed)
        return
    if reviewed is not None:
        fail("--reviewed goes with --all")
    if not workflow_id or not request_id:
        fail("approve needs WORKFLOW_ID and REQUEST_ID (or --all --workflow-type TYPE)")
    assert workflow_id is not None and request_id is not None
    _answer(workflow_id, request_id, as_, reason, "approve", signal)


def approve_all(workflow_type: str, login_as: str | None, reason: str, reviewed: Path | None) -> None:
    from retrofit.cli.bulk_approvals import (
        ReviewError,
        approve_reviewed,
        confirm_interactively,
        load_reviewed,
        pending_of_type,
    )

    async def go() -> None:
        client = await _client()
        identity = IdentityClient(RetrofitSettings(), login_as)
        try:
            found = await pending_of_type(client, workflow_type)
            if reviewed is not None:
                chosen = load_reviewed(reviewed, found)
            else:
                chosen = confirm_interactively(found, workflow_type)
        except (ValueError, ReviewError) as exc:
            fail(str(exc))
            return
        if not chosen.approve:
            fail(f"nothing to approve ({len(found.views)} pending, none reviewed)")
            return
        outcome = await approve_reviewed(client, identity, chosen, reason)
        for wf_id, result in outcome.approved:
            console.print(
                f"{wf_id} {result.request_id}: {result.status.value} "
                f"({len(result.approved_by)}/{result.approvers_needed})"
            )
        for wf_id, request_id, why in outcome.refused:
            err_console.print(f"{wf_id} {request_id}: refused: {why}")
        for wf_id, request_id, why in chosen.skipped:
            err_console.print(f"{wf_id} {request_id}: not approved: {why}")
        console.print(
            f"approved {len(outcome.approved)} request(s), refused {len(outcome.refused)}, "
            f"not reviewed {len(chosen.skipped)}, in {found.workflows} running {workflow_type} workflow(s)"
        )
        if outcome.refused:
            fail(f"{len(outcome.refused)} request(s) refused")

    run_async(go(), IdentityError)


@app.command()
def reject(
    workflow_id: str,
    request_id: str,
    as_: str | None = typer.Option(None, "--as", help=_AS_HELP),
    reason: str = typer.Option(..., "--reason", help="Why: goes back to the caller (and the agent)."),
    signal: bool = typer.Option(
        False, "--signal", help="Send the reject Signal instead of the decide Update."
    ),
) -> None:
    """Reject one pending request, with a reason."""
    if not reason.strip():
        fail("a rejection needs a reason (--reason)")
    _answer(workflow_id, request_id, as_, reason, "reject", signal)
