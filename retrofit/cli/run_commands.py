"""`retrofit dev | worker | start | demo` — running the stack and starting workflows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.text import Text
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from retrofit.cli.identity_client import IdentityClient, IdentityError, starting_client
from retrofit.cli.output import console, fail, print_json, run_async
from retrofit.cli.start_input import (
    StartInputError,
    check_text,
    check_workflow_id,
    parse_input,
    read_input_argument,
)
from retrofit.cli.web_commands import serve_web
from retrofit.codec.keys import CodecConfigError
from retrofit.embedded.demo import DemoFailed
from retrofit.embedded.dev_server import DevServerError
from retrofit.embedded.stack import embedded_stack
from retrofit.gate.approval_models import PENDING_QUERY, ApprovalView, answerers
from retrofit.gate.workflow_input import validation_problems
from retrofit.identity.directory import Directory, DirectoryError
from retrofit.identity.keys import IdentityKeyError
from retrofit.observability import configure_observability, shutdown_tracing
from retrofit.policy_file import PolicyFileError
from retrofit.registry import load_workflows, misconfigured
from retrofit.sdk.connector import ConnectorSettingsError
from retrofit.sdk.errors import PluginError
from retrofit.settings import RetrofitSettings
from retrofit.task_queues import TaskQueueConfigError, plan_connector_workers, queue_for, settings_groups
from retrofit.worker import build_worker, connect, load_worker_config
from retrofit.workflow_catalog import find_workflow


def register(app: typer.Typer) -> None:
    app.command()(dev)
    app.command()(worker)
    app.command()(start)
    app.command()(demo)


def dev(
    demo: bool = typer.Option(False, "--demo", help="Also start the demo legacy systems."),
    port: int = typer.Option(7233, help="Temporal frontend port."),
    ui_port: int = typer.Option(8233, help="Temporal Web UI port."),
    identity_port: int = typer.Option(8234, help="Identity + codec server port (log in there)."),
    web_port: int = typer.Option(8235, help="Web front door port for business users (0: do not serve it)."),
) -> None:
    """Embedded stack: Temporal dev server + Web UI, the identity + codec server, and a worker
    with every connector and workflow. Answers and starts are verified (signed) by default."""
    settings = RetrofitSettings()
    configure_observability(settings)  # a worker process: logs, traces, metrics as `retrofit worker`
    say = startup_printer(settings)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with (
            embedded_stack(
                settings, demo=demo, port=port, ui_port=ui_port, identity_port=identity_port
            ) as stack,
            contextlib.AsyncExitStack() as extra,
        ):
            say(f"[bold green]Temporal Web UI[/]: {stack.ui_url}")
            if web_port:
                web_url = await extra.enter_async_context(
                    serve_web(stack.settings, stack.client, port=web_port)
                )
                say(f"[bold green]Web front door (business users)[/]: {web_url}")
            say(
                f"[bold green]Log in to answer approvals[/]: {stack.identity_url}/login "
                f"(CLI: retrofit login YOUR_NAME; identity mode {stack.settings.identity_mode.value})"
            )
            if stack.settings.identity_directory is not None and demo:
                say(
                    "Demo users (demo only): alice, bob (finance), carol, dave (controllers), erin (ops); "
                    'password "demo-<name>"'
                )
            elif (
                not Directory.from_settings(stack.settings).users()
                and not stack.settings.identity_oidc_issuer
            ):
                say(
                    "[yellow]Nobody can log in yet[/]: add a user with `retrofit identity add-user NAME` "
                    "(or run with --demo for the demo users)"
                )
            say(f"Temporal frontend: {stack.settings.temporal_address}  task queue: {settings.task_queue}")
            say(f"Audit store: {settings.audit_db_url}")
            if demo:
                say(f"Model for the agent: {stack.model.label}")
            for name, url in stack.demo_systems.items():
                say(f"Demo legacy system {name}: {url}")
            say("Worker running. Ctrl-C to stop.")
            await stop.wait()
        say("stopped")

    _run(go())


def worker(
    connectors: str | None = typer.Option(
        None,
        "--connectors",
        help="Serve only these connectors' actions (comma list), each on its group's task queue; no workflows.",
    ),
    queue: str | None = typer.Option(
        None, "--queue", help="Serve only the actions of connectors routed to this task queue; no workflows."
    ),
) -> None:
    """Run a worker against RETROFIT_TEMPORAL_ADDRESS: workflows and every connector's actions, or
    (with --connectors/--queue) one connector group's actions. SIGTERM: stop polling, let running
    activities finish within RETROFIT_GRACEFUL_SHUTDOWN_SECONDS."""
    settings = RetrofitSettings()
    configure_observability(settings)
    say = startup_printer(settings)

    async def go() -> None:
        config = load_worker_config(settings)
        groups = settings_groups(settings)
        names = [c.spec.name for c in config.connectors]
        plan = (
            None
            if connectors is None and queue is None
            else plan_connector_workers(
                groups,
                names,
                settings.task_queue,
                connectors=[n.strip() for n in connectors.split(",") if n.strip()] if connectors else None,
                queue=queue,
            )
        )
        served = (
            {n for n in names if queue_for(n, groups, settings.task_queue) == settings.task_queue}
            if plan is None
            else {n for group in plan.values() for n in group}
        )
        # Settings first: a missing variable is one line per connector, before Temporal is dialled.
        problems = misconfigured(c for c in config.connectors if c.spec.name in served)
        if problems:
            fail("\n".join(str(p) for p in problems.values()))
        client = await connect(settings, serve_metrics=True)
        if plan is None:
            workers = [build_worker(client, settings, config=config)]
        else:
            workers = [
                build_worker(client, settings, config=config, task_queue=q, serve_connectors=group)
                for q, group in plan.items()
            ]
        loop = asyncio.get_running_loop()

        stopping: set[asyncio.Task[None]] = set()  # referenced, so the tasks are not collected

        def stop() -> None:
            # Graceful: stop polling, let in-flight activities finish (or be retried elsewhere).
            stopping.update(asyncio.ensure_future(w.shutdown()) for w in workers)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        for w in workers:
            say(
                f"worker on {settings.temporal_address} namespace {settings.temporal_namespace} "
                f"task queue {w.task_queue} identity {client.identity}"
            )
        try:
            await asyncio.gather(*(w.run() for w in workers))
        finally:
            shutdown_tracing()

    _run(go())


def start(
    workflow: str = typer.Argument(..., help="Workflow type, e.g. CreditLimitReview."),
    input: str = typer.Option(
        "{}", "--input", "-i", help="Workflow input as JSON; @FILE reads it from a file, - from stdin."
    ),
    id: str | None = typer.Option(None, "--id", help="Workflow id (default: generated)."),
    wait: bool = typer.Option(
        False, "--wait", help="Wait for the result and print it, saying which approvals it waits for."
    ),
    summary: str | None = typer.Option(None, "--summary", help="One line shown in the Temporal UI."),
    as_: str | None = typer.Option(
        None, "--as", help="Log in as this user (default: the `retrofit login` session)."
    ),
) -> None:
    """Start a workflow (business users). The input is validated before anything starts (JSON,
    size, depth, Unicode, the workflow's input model); the start carries your signed identity
    (the workflow records who started it). A workflow id is never reused."""
    settings = RetrofitSettings()
    try:
        info = find_workflow(load_workflows(), workflow)
    except (LookupError, PluginError) as exc:
        fail(str(exc))
        return
    try:
        raw = parse_input(read_input_argument(input))
        if id is not None:
            check_workflow_id(id)
        if summary is not None:
            check_text(summary, "--summary")
    except StartInputError as exc:
        fail(str(exc))
        return
    from retrofit.redaction.boundary import redact_start_input  # detect-secrets: only when starting

    raw = redact_start_input(info.name, raw)  # AgentTask's goal, as `agent run` does
    arg: Any = raw
    if info.input_model is not None:
        try:
            arg = info.input_model.model_validate(raw)
        except ValidationError as exc:
            fail(f"invalid input for {info.name}, nothing started: {'; '.join(validation_problems(exc))}")
            return
    workflow_id = id or f"{info.name}-{uuid.uuid4().hex[:12]}"

    async def go() -> None:
        identity = IdentityClient(settings, as_)
        # Signed first: not logged in, a refused login or the service down stop us before Temporal.
        signed = await identity.start(workflow_id, info.name)
        client = await starting_client(
            settings, identity, signed={(workflow_id, info.name): signed.assertion}
        )
        try:
            handle = await client.start_workflow(
                info.name,
                arg,
                id=workflow_id,
                task_queue=settings.task_queue,
                # An id names one run for good: its audit trail and idempotency keys
                # (`<id>#<step>`) are the id's, so a second run under it would collide with them.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=summary or f"{info.name} started from the CLI",
                static_details=f"Input:\n```json\n{json.dumps(raw, indent=2)[:1500]}\n```",
            )
        except WorkflowAlreadyStartedError:
            fail(
                f"workflow id {workflow_id!r} is already taken (a {info.name} or another workflow was "
                f"started with it; ids are never reused): see it in the Temporal UI "
                f"{settings.workflow_url(workflow_id)} or with `retrofit audit show {workflow_id}`, "
                "or start with another --id"
            )
            return
        except RPCError as exc:  # e.g. a payload over the server's limit: the server's sentence
            fail(f"Temporal refused the start of {info.name}: {exc.status.name}: {exc.message}")
            return
        console.print(
            f"started [bold]{info.name}[/] id={handle.id} run={handle.result_run_id} as {signed.subject}"
        )
        console.print(f"UI: {settings.workflow_url(handle.id)}")
        if wait:
            await _wait_for_result(handle, settings)

    _run(go())


async def _wait_for_result(handle: WorkflowHandle[Any, Any], settings: RetrofitSettings) -> None:
    """The result, and meanwhile each request the workflow waits on: who may answer and how."""
    console.print(f"waiting for {handle.id} to finish (Ctrl-C stops waiting; the workflow keeps running)")
    result = asyncio.ensure_future(handle.result())
    said: set[tuple[str, int, bool]] = set()
    while not result.done():
        with contextlib.suppress(Exception):  # not yet running, finished meanwhile, or no such query
            views = await handle.query(PENDING_QUERY, result_type=list[ApprovalView])
            for view in views:
                key = (view.request_id, len(view.approved_by), view.escalated)
                if key not in said:
                    said.add(key)
                    # One unwrapped line: the commands in it are meant to be copied.
                    console.print(escape(waiting_line(view, handle.id, settings)), soft_wrap=True)
        await asyncio.wait({result}, timeout=_WAIT_POLL_SECONDS)
    try:
        output = result.result()
    except WorkflowFailureError as exc:
        cause = exc.cause
        fail(f"workflow failed: {getattr(cause, 'message', None) or cause}")
        return
    print_json(output.model_dump(mode="json") if hasattr(output, "model_dump") else output)


#: How often `--wait` asks the workflow what it waits for.
_WAIT_POLL_SECONDS = 1.0


def waiting_line(view: ApprovalView, workflow_id: str, settings: RetrofitSettings) -> str:
    """One line: the request, who may answer it, the command that does, and the UI link."""
    url = settings.workflow_url(workflow_id)
    if view.kind == "failure":
        return (
            f"waiting for a person to resolve {view.request_id}: {view.action} failed ({view.error[:200]}); "
            f"`retrofit resolve {workflow_id} {view.request_id} {'|'.join(view.choices) or 'retry'}` "
            f"or in the Temporal UI {url}"
        )
    return (
        f"waiting for approval {view.request_id} of {view.action} ({answerers(view, 'anyone but the starter')}; "
        f"{len(view.approved_by)}/{view.approvers_needed} approvals{', escalated' if view.escalated else ''}): approve with "
        f"`retrofit approvals approve {workflow_id} {view.request_id}` (or reject with "
        f"`retrofit approvals reject {workflow_id} {view.request_id} --reason ...`) or in the Temporal UI {url}"
    )


def demo(
    port: int = typer.Option(7233, help="Temporal frontend port."),
    ui_port: int = typer.Option(8233, help="Temporal Web UI port."),
    identity_port: int = typer.Option(8234, help="Identity + codec server port."),
) -> None:
    """The end-to-end demo, non-interactively: embedded stack, demo systems, a workflow, its audit trail."""
    from retrofit.embedded.demo import run_demo

    settings = RetrofitSettings()
    configure_observability(settings)  # a worker process, as `retrofit dev`
    _run(run_demo(settings, port=port, ui_port=ui_port, identity_port=identity_port))


def startup_printer(settings: RetrofitSettings) -> Callable[[str], None]:
    """How a long-running command says where things are: on the console, or with
    RETROFIT_LOG_FORMAT=json as log records, so the process writes nothing but JSON lines."""
    if settings.log_format != "json":
        return console.print
    log = logging.getLogger("retrofit.cli")
    return lambda text: log.info(Text.from_markup(text).plain)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    run_async(
        coro,
        DevServerError,
        PluginError,
        PolicyFileError,
        DemoFailed,
        CodecConfigError,
        TaskQueueConfigError,
        IdentityError,
        IdentityKeyError,
        DirectoryError,
        ConnectorSettingsError,
    )
