"""Who starts a workflow, proven: a client interceptor that puts the starter's assertion in the
start's `retrofit-starter` header.

    client = await Client.connect(..., interceptors=[StarterHeaderInterceptor(token_for)])

`token_for(workflow_id, workflow_type)` returns the identity service's start assertion for the
person using this client (or None: the start goes out without one and the workflow records its
starter as `unverified`). It may be a plain function or a coroutine function. The workflow
verifies the assertion against its pinned keys (`retrofit.gate.answer_identity`), records the
verified starter in the audit trail and the current details, and refuses that person's answers
to the workflow's own approval requests.

Host-only (a Temporal client piece); never imported by workflow code.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import temporalio.converter
from temporalio.client import (
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    StartWorkflowUpdateWithStartInput,
    UpdateWithStartStartWorkflowInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

#: The header name (kept equal to `retrofit.gate.answer_identity.STARTER_HEADER`).
STARTER_HEADER = "retrofit-starter"

TokenFor = Callable[[str, str], "str | Awaitable[str | None] | None"]


class StarterHeaderInterceptor(Interceptor):
    def __init__(self, token_for: TokenFor) -> None:
        self._token_for = token_for

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _StarterOutbound(next, self._token_for)


class _StarterOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, token_for: TokenFor) -> None:
        super().__init__(next)
        self._token_for = token_for

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        await _stamp(input, self._token_for)
        return await super().start_workflow(input)

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        await _stamp(input.start_workflow_input, self._token_for)
        return await super().start_update_with_start_workflow(input)


async def _stamp(input: StartWorkflowInput | UpdateWithStartStartWorkflowInput, token_for: TokenFor) -> None:
    token = token_for(input.id, input.workflow)
    if inspect.isawaitable(token):
        token = await token
    if not token:
        return
    payload = temporalio.converter.default().payload_converter.to_payloads([token])[0]
    input.headers = {**input.headers, STARTER_HEADER: payload}
