"""`retrofit` — the command line for integrators, ops and business users."""

from __future__ import annotations

import os
import sys

import typer

from retrofit.cli import (
    agent_commands,
    approval_commands,
    audit_commands,
    codec_commands,
    connector_commands,
    eval_app,
    failure_commands,
    identity_commands,
    mcp_commands,
    run_commands,
    search_attribute_commands,
    web_commands,
)
from retrofit.observability.tracing import shutdown_tracing

#: How long a command waits at exit for its spans to reach the collector.
EXIT_FLUSH_SECONDS = 2.0

app = typer.Typer(
    name="retrofit",
    help="Put AI agents in front of legacy systems, safely: durable workflows, policy, approvals, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run_commands.register(app)
app.command("codec-server")(codec_commands.codec_server)
identity_commands.register(app)
app.add_typer(connector_commands.app, name="connectors")
app.add_typer(approval_commands.app, name="approvals")
# `retrofit resolve ...`, and the same as `retrofit approvals resolve ...` beside approve/reject.
failure_commands.register(app)
failure_commands.register(approval_commands.app)
app.add_typer(audit_commands.app, name="audit")
app.add_typer(agent_commands.app, name="agent")
app.add_typer(search_attribute_commands.app, name="search-attributes")
app.add_typer(mcp_commands.app, name="mcp")
app.add_typer(eval_app.app, name="eval")
app.command("web")(web_commands.web)


def main() -> None:
    try:
        app()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
    # os._exit below skips atexit: export the command's spans (start, answer) now, briefly.
    shutdown_tracing(wait=EXIT_FLUSH_SECONDS)
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal client's Rust threads can abort CPython's finalization of a short-lived
    # process (temporalio/sdk-python#300, "PyGILState_Release ... finalizing"): everything is
    # flushed and closed by now, so leave without finalizing.
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))
