"""`retrofit agent ...` — business users hand a goal to the agent and follow it.

    retrofit agent run "Chase the largest overdue invoice" --allow erp.* --allow crm.add_note --wait
    retrofit agent progress WORKFLOW_ID

The goal is redacted (e-mail addresses, phone numbers, IBANs, card numbers) before it is sent, so
it enters neither Temporal's history nor a prompt in plain.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from retrofit.agent.contracts import AgentTaskInput, AgentTaskResult
from retrofit.agent.progress import AgentProgress
from retrofit.agent.stopped import agent_task_result
from retrofit.cli.identity_client import IdentityClient, IdentityError, starting_client
from retrofit.cli.output import console, fail, run_async
from retrofit.gate.approval_models import PENDING_QUERY, ApprovalView
from retrofit.redaction import summarize
from retrofit.redaction.boundary import redact_text
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect

app = typer.Typer(help="Run a goal with the AI agent and follow it (business users).", no_args_is_help=True)

WORKFLOW = "AgentTask"
PROGRESS_QUERY = "agent_progress"


@app.command()
def run(
    goal: str = typer.Argument(..., help="What to achieve, in plain words."),
    allow: list[str] = typer.Option(
        ..., "--allow", "-a", help="An action or `connector.*` the agent may call (repeat)."
    ),
    max_steps: int | None = typer.Option(None, help="Model turns at most."),
    max_tokens: int | None = typer.Option(None, help="Prompt + completion tokens at most."),
    max_cost: float | None = typer.Option(None, help="USD at most."),
    model: str | None = typer.Option(None, help="Model name (default: the endpoint's configured model)."),
    endpoint: str | None = typer.Option(
        None, help="Model endpoint, by the name the operator configured (default: primary)."
    ),
    fallback: list[str] = typer.Option(
        [], "--fallback", help="A configured endpoint name to fall back to (repeat, in order)."
    ),
    schema: Path | None = typer.Option(None, help="JSON schema file the final answer must satisfy."),
    id: str | None = typer.Option(None, "--id", help="Workflow id (default: generated)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the result and print it."),
    as_: str | None = typer.Option(
        None, "--as", help="Log in as this user (default: the `retrofit login` session)."
    ),
) -> None:
    """Start the agent on a goal, as you (signed). Writes it proposes wait for approval like any other."""
    budget: dict[str, object] = {}
    for key, value in (("max_steps", max_steps), ("max_tokens", max_tokens), ("max_cost_usd", max_cost)):
        if value is not None:
            budget[key] = value
    raw: dict[str, object] = {
        "goal": redact_text(goal),
        "allowed_actions": allow,
        "budget": budget,
        "model": {"model": model, "endpoint": endpoint, "fallbacks": fallback},
    }
    if schema is not None:
        try:
            raw["output_schema"] = json.loads(schema.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            fail(f"--schema {schema}: {exc}")
            return
    try:
        task = AgentTaskInput.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"invalid agent task: {problems}")
        return
    settings = RetrofitSettings()
    workflow_id = id or f"agent-{uuid.uuid4().hex[:12]}"

    async def go() -> None:
        identity = IdentityClient(settings, as_)
        # Signed first: not logged in, a refused login or the service down stop us before Temporal.
        signed = await identity.start(workflow_id, WORKFLOW)
        client = await starting_client(settings, identity, signed={(workflow_id, WORKFLOW): signed.assertion})
        handle = await client.start_workflow(
            WORKFLOW,
            task,
            id=workflow_id,
            task_queue=settings.task_queue,
            static_summary=f"Agent: {summarize(task.goal, 100)}",
            static_details=f"Goal: {task.goal}\n\nAllowed actions: {', '.join(task.allowed_actions)}",
            result_type=AgentTaskResult,
        )
        console.print(f"started [bold]{WORKFLOW}[/] id={handle.id}")
        console.print(f"UI: {settings.workflow_url(handle.id)}")
        console.print(f"follow it: retrofit agent progress {handle.id}")
        if not wait:
            return
        try:
            result = await agent_task_result(handle)  # answered, or stopped (a failed workflow)
        except WorkflowFailureError as exc:
            fail(f"agent task failed: {getattr(exc.cause, 'message', None) or exc.cause}")
            return
        print_result(result)

    run_async(go(), IdentityError)


@app.command()
def progress(workflow_id: str = typer.Argument(..., help="The agent task's workflow id.")) -> None:
    """Where an agent task stands: model turns, tokens, cost, and what it waits for."""
    settings = RetrofitSettings()

    async def go() -> None:
        handle = (await connect(settings)).get_workflow_handle(workflow_id)
        try:
            now = await handle.query(PROGRESS_QUERY, result_type=AgentProgress)
            pending = await handle.query(PENDING_QUERY, result_type=list[ApprovalView])
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                fail(f"no workflow {workflow_id!r}")
            raise
        label = " [yellow](scripted model)[/]" if now.scripted else ""
        console.print(f"[bold]{workflow_id}[/]: {now.model}{label}")
        console.print(
            f"model turns {now.step}/{now.max_steps} · tokens {now.tokens:,}/{now.max_tokens:,} · "
            f"cost ${now.cost_usd:.4f}/${now.max_cost_usd:.2f}"
        )
        console.print(f"now: {now.waiting_for}")
        for view in pending:
            console.print(
                f"  waiting for approval {view.request_id}: {view.action} {summarize(view.arguments, 100)}"
                f" — retrofit approvals approve {workflow_id} {view.request_id} (after `retrofit login YOUR_NAME`)"
            )

    run_async(go())


def print_result(result: AgentTaskResult) -> None:
    label = " [yellow](scripted model: offline, no key)[/]" if result.scripted else ""
    console.print(f"status: [bold]{result.status.value}[/]{' — ' + result.detail if result.detail else ''}")
    console.print(f"model: {result.model}{label}")
    if result.answer:
        console.print(f"answer: {result.answer}")
    table = Table(title="tool calls the model proposed")
    for column in ("turn", "action", "outcome", "detail"):
        table.add_column(column)
    for tool in result.tools:
        table.add_row(str(tool.turn), tool.action, tool.outcome.value, tool.detail)
    console.print(table)
    usage = result.usage
    console.print(
        f"model turns {usage.steps} ({usage.cache_hits} from cache) · tokens {usage.prompt_tokens:,} in "
        f"+ {usage.completion_tokens:,} out · cost ${usage.cost_usd:.6f}"
        + (f" (+{usage.unpriced_calls} unpriced calls)" if usage.unpriced_calls else "")
        + f" · runs {result.runs}"
    )
