"""The workflow's current details (what the Temporal UI shows): the gate's line under a header.

A workflow that runs many gate calls (the agent) sets a header once per step, e.g. its step,
tokens and cost so far; every line the gate shows, such as how to answer an approval, keeps it.
"""

from __future__ import annotations

from temporalio import workflow

from retrofit.observability.workflow_trace import workflow_trace_id

_ATTR = "_retrofit_details_header"
_DECISIONS = "_retrofit_details_decisions"


def set_details_header(header: str) -> None:
    setattr(workflow.instance(), _ATTR, header)


def record_decision(line: str) -> None:
    """A decision the run keeps showing to its end: what was approved, rejected or skipped, by whom."""
    decisions: list[str] = getattr(workflow.instance(), _DECISIONS, [])
    setattr(workflow.instance(), _DECISIONS, [*decisions, line])


def show_details(text: str) -> None:
    header: str = getattr(workflow.instance(), _ATTR, "")
    body = f"{header}\n\n{text}" if header else text
    decisions: list[str] = getattr(workflow.instance(), _DECISIONS, [])
    if decisions:
        body += "\n\n**Decisions so far**\n\n" + "\n".join(f"- {d}" for d in decisions)
    # Ops jump from what waits here to its trace (search the id in the trace viewer).
    workflow.set_current_details(f"{body}\n\nTrace: `{workflow_trace_id()}`")
