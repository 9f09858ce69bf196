"""Compensation for business workflows: undo the writes that succeeded, newest first.

    saga = Saga()
    try:
        await saga.run("ledger.set_credit_limit", new_limit, undo=old_limit, returns=Customer)
        await saga.run("crm.update_account_status", active, undo=previous_status)
        await saga.run("crm.add_note", welcome)
    except ActionError as exc:
        await saga.compensate(reason=exc.message)
        raise

`run` is `run_action` plus bookkeeping: when the call succeeds and `undo` is given, the action's
declared `compensate=` action and the `undo` arguments are remembered. `compensate` runs them in
reverse order, each through the gate (validated, decided by policy — a compensating write may
itself wait for approval — and audited like any call, with its own step and idempotency key), and
appends an `action.compensated` record on the step it undid. A compensation that fails does not
stop the others; `CompensationFailedError` then names every step left as it was.

Deterministic: stdlib, pydantic and `temporalio.workflow` only. Calls on one saga are sequential
(a saga is a sequence): each `run` is awaited before the next starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from retrofit.audit.events import AuditKind
from retrofit.gate import catalog
from retrofit.gate.audit_calls import record_events, workflow_event
from retrofit.gate.errors import ActionError
from retrofit.gate.run_action import run_action
from retrofit.gate.state import gate_state
from retrofit.redaction import redact

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class CompensatedStep:
    step: int  # the write that was undone
    action: str
    compensation: str  # the action that undid it
    compensation_step: int


@dataclass(frozen=True)
class _Undo:
    step: int
    action: str
    effect: str
    compensation: str
    arguments: dict[str, Any]


class CompensationFailedError(ApplicationError):
    """Some compensations failed: those writes stand, and need a person (see the audit trail)."""

    def __init__(self, message: str, *, failed_steps: list[int], compensated_steps: list[int]) -> None:
        super().__init__(
            message,
            {"failed_steps": failed_steps, "compensated_steps": compensated_steps},
            type="CompensationFailed",
            non_retryable=True,
        )
        self.failed_steps = failed_steps
        self.compensated_steps = compensated_steps


class Saga:
    def __init__(self) -> None:
        self._undo: list[_Undo] = []

    @property
    def pending(self) -> int:
        """How many successful writes `compensate` would undo."""
        return len(self._undo)

    @overload
    async def run(
        self,
        name: str,
        arguments: BaseModel | Mapping[str, Any],
        *,
        returns: type[M],
        undo: BaseModel | Mapping[str, Any] | None = None,
        summary: str | None = None,
    ) -> M: ...

    @overload
    async def run(
        self,
        name: str,
        arguments: BaseModel | Mapping[str, Any],
        *,
        returns: None = None,
        undo: BaseModel | Mapping[str, Any] | None = None,
        summary: str | None = None,
    ) -> BaseModel: ...

    async def run(
        self,
        name: str,
        arguments: BaseModel | Mapping[str, Any],
        *,
        returns: type[BaseModel] | None = None,
        undo: BaseModel | Mapping[str, Any] | None = None,
        summary: str | None = None,
    ) -> BaseModel:
        """`run_action(name, arguments)`; on success, remember how to undo it (when `undo` is given)."""
        spec = catalog.lookup(name)
        if undo is not None and spec is not None and spec.compensate is None:
            # A programming error, caught before the write runs rather than when it must be undone.
            raise ApplicationError(
                f"{name} declares no compensate= action, so it cannot be undone",
                type="NoCompensation",
                non_retryable=True,
            )
        # run_action takes its step synchronously, before its first await: this is that step.
        step = gate_state().step + 1
        result = await run_action(name, arguments, returns=returns, summary=summary)
        if undo is not None and spec is not None and spec.compensate is not None:
            undo_args = undo.model_dump(mode="json") if isinstance(undo, BaseModel) else dict(undo)
            self._undo.append(_Undo(step, name, spec.effect.value, spec.compensate, undo_args))
        return result

    async def compensate(self, reason: str = "") -> list[CompensatedStep]:
        """Undo every remembered write, newest first; raises CompensationFailedError if any fails."""
        done: list[CompensatedStep] = []
        failures: list[str] = []
        failed_steps: list[int] = []
        while self._undo:
            undo = self._undo.pop()
            compensation_step = gate_state().step + 1
            try:
                await run_action(
                    undo.compensation,
                    undo.arguments,
                    summary=f"compensate step {undo.step} ({undo.action}) with {undo.compensation}",
                )
            except ActionError as exc:
                failures.append(f"step {undo.step} ({undo.action}): {exc.message}")
                failed_steps.append(undo.step)
                continue
            done.append(CompensatedStep(undo.step, undo.action, undo.compensation, compensation_step))
            await record_events(
                [
                    workflow_event(
                        AuditKind.COMPENSATED,
                        "compensated",
                        actor=gate_state().actor,
                        step=undo.step,
                        action=undo.action,
                        effect=undo.effect,
                        idempotency_key=f"{workflow.info().workflow_id}#{undo.step}",
                        data={
                            "compensation": undo.compensation,
                            "compensation_step": compensation_step,
                            "arguments": redact(undo.arguments),
                            "reason": reason,
                        },
                    )
                ]
            )
        if failures:
            raise CompensationFailedError(
                "compensation incomplete: " + "; ".join(failures),
                failed_steps=failed_steps,
                compensated_steps=[d.step for d in done],
            )
        return done
