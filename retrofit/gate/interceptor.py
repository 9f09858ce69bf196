"""Installs the approval handlers (`decide`, `approve`, `reject`, `pending_approvals`,
`resolve_failure`) on every workflow a Retrofit worker runs, so workflow authors write none of
that plumbing; and reads who started the workflow from the start's `retrofit-starter` header
(verified against the pinned keys when the run first needs it, see `gate.answer_identity`),
handing it on to the next run on continue-as-new."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.worker import (
    ContinueAsNewInput,
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from retrofit.gate.answer_identity import (
    CARRIED_HEADER,
    STARTER_HEADER,
    begin_run,
    carry_header,
    identity_book,
    take_carried,
)
from retrofit.gate.approvals import install_approval_handlers
from retrofit.gate.escalation import install_failure_handlers
from retrofit.gate.input_refusal import fail_on_invalid_value, refuse_start
from retrofit.gate.workflow_input import start_problems


class _GateInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_GateOutbound(outbound))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        begin_run()
        _read_starter(input.headers)
        install_approval_handlers()
        install_failure_handlers()
        problems = start_problems(input.run_fn, input.args)
        if problems:
            await refuse_start(problems)
        try:
            return await super().execute_workflow(input)
        except ValidationError as exc:
            # A value built from the input failed a model's check in workflow code (a customer id
            # the connector's pattern refuses): a task failure would be retried forever.
            await fail_on_invalid_value(exc)


class _GateOutbound(WorkflowOutboundInterceptor):
    def continue_as_new(self, input: ContinueAsNewInput) -> Any:
        carried = carry_header()
        if carried is not None:
            payload = workflow.payload_converter().to_payloads([carried])[0]
            input.headers = {**input.headers, CARRIED_HEADER: payload}
        return super().continue_as_new(input)


def _read_starter(headers: Any) -> None:
    """Keep the starter's assertion and what a previous run handed on; anything that does not
    decode counts as absent (the starter is then `unverified`)."""
    book = identity_book()
    token = _decoded(headers.get(STARTER_HEADER), str)
    book.starter_token = token if isinstance(token, str) else ""
    carried = _decoded(headers.get(CARRIED_HEADER), dict)
    take_carried(carried if isinstance(carried, dict) else None)


def _decoded(payload: Payload | None, kind: type) -> Any:
    if payload is None:
        return None
    try:
        return workflow.payload_converter().from_payloads([payload], [kind])[0]
    except Exception:
        # Hostile or garbled header: the start is simply unverified.
        return None


class RetrofitInterceptor(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _GateInbound
