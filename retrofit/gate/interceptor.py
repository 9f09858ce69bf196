"""Installs the approval handlers (`decide`, `approve`, `reject`, `pending_approvals`) on every
workflow a Retrofit worker runs, so workflow authors write none of that plumbing."""

from __future__ import annotations

from typing import Any

from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from retrofit.gate.approvals import install_approval_handlers
from retrofit.gate.escalation import install_failure_handlers


class _GateInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        install_approval_handlers()
        install_failure_handlers()
        return await super().execute_workflow(input)


class RetrofitInterceptor(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _GateInbound
