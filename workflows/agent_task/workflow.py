"""AgentTask workflow: a business user's goal, planned by an LLM with connector actions as tools.

    model turn (LLM activity) -> for each tool call: allowed list -> JSON -> the gate (validation,
    policy, approval, audit, action activity) -> result or refusal back to the model, as data

The model is never trusted with safety: which actions exist for it, what is valid, what needs an
approval (a DESTRUCTIVE action always does) is decided here and in the gate, whatever the model says.

Stops on: a final answer (checked against `output_schema` when one is given), a budget reached
(steps, tokens, cost: counted over every model attempt the provider may have billed, failed ones
included), too many refused or failed tool calls in a row (checked call by call: the rest of the
turn does not run), or a model that fails for good. At most the per-turn cap of proposed calls run
in one turn (the operator's RETROFIT_LLM_MAX_TOOL_CALLS_PER_TURN, or the task budget's lower one);
the rest are refused and the model is told why.
Long conversations continue-as-new, carrying a compacted conversation and the totals.

Updates / signals / queries: the approval handlers every Retrofit workflow has, and the query
`agent_progress` (step, tokens, cost, what it waits for).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from retrofit.agent import conversation
from retrofit.agent.allowed import AllowedActions
from retrofit.agent.contracts import (
    AGENT_STOPPED,
    AgentCarry,
    AgentTaskInput,
    AgentTaskResult,
    StopReason,
    ToolOutcome,
    ToolRecord,
    Usage,
)
from retrofit.agent.feedback import gate_feedback
from retrofit.agent.output_schema import parse_answer
from retrofit.agent.progress import AgentProgress, budget_reason, header
from retrofit.audit.events import Actor, ActorKind, AuditKind
from retrofit.gate import (
    ActionError,
    act_as,
    continue_steps_from,
    run_action_for_model,
)
from retrofit.gate.audit_calls import record_events, workflow_event
from retrofit.gate.details import set_details_header, show_details
from retrofit.gate.state import gate_state
from retrofit.llm.contracts import (
    LLM_ACTIVITY,
    MODEL_CHOICE_REFUSED,
    ChatMessage,
    LlmCall,
    LlmRequest,
    LlmResponse,
    ToolCall,
    ToolSpec,
)
from retrofit.llm.tools import tool_specs
from retrofit.llm.usage import StepUsage, bill_in
from retrofit.redaction import redact_with

# Stopping at the consecutive-error limit in the middle of a turn (was: at the end of it).
_ERRORS_CALL_BY_CALL = "agent-errors-call-by-call"
# A task that stopped without an answer (budget, errors, model) fails its workflow (was: completed),
# so the Temporal UI shows it as not successful; the result rides in the failure's details.
_STOPPED_FAILS = "agent-stopped-fails"
# Model calls: a slow provider is retried by Temporal; the attempts cover every fallback endpoint.
_LLM_TIMEOUT = timedelta(seconds=120)


@workflow.defn(name="AgentTask")
class AgentTask:
    def __init__(self) -> None:
        self._progress = AgentProgress()

    @workflow.query(name="agent_progress")
    def progress(self) -> AgentProgress:
        return self._progress

    @workflow.run
    async def run(self, task: AgentTaskInput) -> AgentTaskResult:
        carried = task.carried
        self._task = task
        self._allowed = AllowedActions(task.allowed_actions)
        self._usage = carried.usage if carried else Usage()
        self._tools: list[ToolRecord] = list(carried.tools) if carried else []
        self._errors = carried.consecutive_errors if carried else 0
        self._runs = carried.runs if carried else 1
        self._model = task.model.model or "configured model"
        self._scripted = False
        act_as(Actor(kind=ActorKind.AGENT, name=f"agent ({self._model})"))
        if carried is not None:
            continue_steps_from(carried.gate_step)
            messages = list(carried.messages)
        else:
            messages = conversation.opening(task.goal, task.output_schema, task.redact_patterns)
        tools = self._offered_tools()
        if carried is None:
            await self._record_started(tools)
            refused = task.model.refusal()  # a URL or a key: refused before any model call
            if refused is not None:
                return await self._finish(StopReason.INVALID_MODEL_CHOICE, None, None, detail=refused)

        while True:
            reason = budget_reason(self._usage, task.budget)
            if reason is not None:
                return await self._finish(reason, None, None)
            if self._history_is_long():
                self._continue_as_new(messages)
            step = gate_state().next_step()
            self._show("waiting for the model", f"Step {step}: waiting for the model")
            try:
                response = await self._ask_model(step, messages, tools)
            except ActivityError as exc:
                # The turn's failed attempts may still have been billed: they count.
                bill = bill_in(exc.cause.details) if isinstance(exc.cause, ApplicationError) else None
                if bill is not None:
                    self._add_bill(bill)
                if isinstance(exc.cause, ApplicationError) and exc.cause.type == MODEL_CHOICE_REFUSED:
                    # An endpoint or model the worker does not offer: nothing was sent.
                    reason = StopReason.INVALID_MODEL_CHOICE
                    return await self._finish(reason, None, None, detail=exc.cause.message)
                detail = _cause(exc)
                if bill is None:  # the last attempt never reported (its worker died, it timed out)
                    detail += (
                        "; what this turn's attempts cost is not in these totals (see its llm.attempt "
                        "records)"
                    )
                return await self._finish(StopReason.MODEL_FAILED, None, None, detail=detail)
            self._count(response)
            messages.append(
                conversation.assistant_turn(response.content, response.tool_calls, task.redact_patterns)
            )
            reason = budget_reason(self._usage, task.budget, after_call=True)
            if reason is not None:  # spent: the proposed calls do not run
                return await self._finish(reason, None, None)

            if not response.tool_calls:
                output, problem = self._final_output(response.content)
                if problem is None:
                    return await self._finish(StopReason.ANSWERED, response.content, output)
                self._errors += 1
                messages.append(conversation.correction(problem))
            cap = self._tool_cap(response)
            for index, call in enumerate(response.tool_calls):
                if cap is not None and index >= cap:
                    outcome, message = await self._over_cap(step, index, call, cap)
                else:
                    outcome, message = await self._run_tool(step, index, call)
                messages.append(message)
                self._errors = 0 if outcome is ToolOutcome.SUCCEEDED else self._errors + 1
                # Call by call: the moment the limit is reached, the rest of the turn does not run.
                # (Histories from before this rule replay as they ran: on to the end of the turn.)
                not_run = len(response.tool_calls) - index - 1
                if self._errors >= task.budget.max_consecutive_errors and (
                    not_run == 0 or workflow.patched(_ERRORS_CALL_BY_CALL)
                ):
                    return await self._finish(
                        StopReason.TOO_MANY_ERRORS, None, None, detail=self._tools[-1].detail, not_run=not_run
                    )
            if self._errors >= task.budget.max_consecutive_errors:
                last = self._tools[-1].detail if self._tools else "answers that were not accepted"
                return await self._finish(StopReason.TOO_MANY_ERRORS, None, None, detail=last)

    # --- the model ---------------------------------------------------------------------------

    def _offered_tools(self) -> list[ToolSpec]:
        specs = self._allowed.specs()
        if not specs:
            raise ApplicationError(
                f"none of the allowed actions {self._task.allowed_actions} is served by this worker",
                type="NoAllowedActions",
                non_retryable=True,
            )
        return tool_specs(specs)

    async def _ask_model(self, step: int, messages: list[ChatMessage], tools: list[ToolSpec]) -> LlmResponse:
        choice = self._task.model
        # Endpoint names only; the worker resolves each to its URL and its own key.
        endpoints = choice.chain()
        call = LlmCall(
            request=LlmRequest(
                messages=messages, tools=tools, model=choice.model, temperature=choice.temperature
            ),
            step=step,
            workflow_type=workflow.info().workflow_type,
            actor=Actor(kind=ActorKind.AGENT, name=self._model),
            endpoints=endpoints,
            fallback_after=choice.fallback_after,
            use_cache=choice.cache,
            redactions=self._task.redact_patterns,
        )
        # With fallbacks, every endpoint gets its `fallback_after` attempts; without, a few retries.
        attempts = choice.fallback_after * len(endpoints) if endpoints else 5
        response: LlmResponse = await workflow.execute_activity(
            LLM_ACTIVITY,
            call,
            result_type=LlmResponse,
            start_to_close_timeout=_LLM_TIMEOUT,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                maximum_interval=timedelta(seconds=30),
                maximum_attempts=attempts,
            ),
            summary=f"agent step {step}: ask {self._model}",
        )
        return response

    def _count(self, response: LlmResponse) -> None:
        usage = self._usage
        usage.steps += 1
        usage.llm_calls += 0 if response.cache_hit else 1
        usage.cache_hits += 1 if response.cache_hit else 0
        usage.latency_ms += response.latency_ms
        if response.billed is not None:  # every attempt of the turn, as its records add up
            self._add_bill(response.billed)
        else:  # an answer from an older worker: its own usage only
            usage.prompt_tokens += response.prompt_tokens
            usage.completion_tokens += response.completion_tokens
            if response.cost_usd is None:
                usage.unpriced_calls += 1
            else:
                usage.cost_usd += response.cost_usd
        self._model = response.model
        self._scripted = self._scripted or response.scripted
        act_as(Actor(kind=ActorKind.AGENT, name=f"agent ({response.model})"))

    def _add_bill(self, bill: StepUsage) -> None:
        usage = self._usage
        usage.attempts += bill.attempts
        usage.estimated_attempts += bill.estimated_attempts
        usage.prompt_tokens += bill.prompt_tokens
        usage.completion_tokens += bill.completion_tokens
        usage.cost_usd += bill.cost_usd
        usage.unpriced_calls += bill.unpriced_attempts

    def _tool_cap(self, response: LlmResponse) -> int | None:
        """Tool calls run this turn: the operator's cap (from the worker) or the task's, the lower."""
        caps = [c for c in (response.max_tool_calls, self._task.budget.max_tool_calls_per_turn) if c]
        return min(caps) if caps else None

    def _final_output(self, content: str | None) -> tuple[dict[str, Any] | None, str | None]:
        if self._task.output_schema is None:
            return None, None if content else "the answer is empty"
        return parse_answer(content, self._task.output_schema)

    # --- tool calls ----------------------------------------------------------------------------

    async def _over_cap(
        self, step: int, index: int, call: ToolCall, cap: int
    ) -> tuple[ToolOutcome, ChatMessage]:
        problem = f"over the cap of {cap} tool calls per turn"
        await self._refused(step, index, call, problem, {"cap": cap})
        name = self._allowed.resolve_tool(call.name) or call.name
        error = f"only {cap} tool calls run per turn and this was call {index + 1}; it did not run"
        return self._note(name, ToolOutcome.OVER_CAP, call, "refused", {"error": error})

    async def _run_tool(self, step: int, index: int, call: ToolCall) -> tuple[ToolOutcome, ChatMessage]:
        redactions = self._task.redact_patterns
        action = self._allowed.resolve_tool(call.name)
        if action is None:
            offered = sorted(self._allowed_names())
            await self._refused(step, index, call, "not in the allowed list", {"allowed": offered})
            return self._note(
                call.name,
                ToolOutcome.NOT_ALLOWED,
                call,
                "not_allowed",
                {
                    "error": f"{call.name!r} is not one of your tools; nothing ran",
                    "your_tools": offered,
                },
            )
        try:
            arguments = json.loads(call.arguments or "{}")
        except (ValueError, RecursionError) as exc:
            # RecursionError: nesting past the parser's depth; uncaught, the task fails forever.
            problem = (
                "the arguments are nested too deeply to read"
                if isinstance(exc, RecursionError)
                else f"the arguments are not valid JSON: {exc}"
            )
            await self._refused(step, index, call, problem, {"action": action})
            return self._note(action, ToolOutcome.INVALID, call, "invalid_arguments", {"error": problem})
        if not isinstance(arguments, dict):
            problem = "the arguments must be a JSON object"
            await self._refused(step, index, call, problem, {"action": action})
            return self._note(action, ToolOutcome.INVALID, call, "invalid_arguments", {"error": problem})

        self._show(f"running {action}", f"Step {step}: running {action}")
        try:
            output = await run_action_for_model(
                action,
                arguments,
                policy=self._task.policy,
                redactions=redactions,
                summary=f"agent step {step}: {action}",
            )
        except ActionError as exc:
            outcome, status, payload = gate_feedback(exc)
            return self._note(action, outcome, call, status, payload)
        return self._note(action, ToolOutcome.SUCCEEDED, call, "ok", output)

    def _note(
        self, action: str, outcome: ToolOutcome, call: ToolCall, status: str, payload: Any
    ) -> tuple[ToolOutcome, ChatMessage]:
        detail = "" if outcome is ToolOutcome.SUCCEEDED else str(payload.get("error", ""))[:200]
        self._tools.append(ToolRecord(turn=self._usage.steps, action=action, outcome=outcome, detail=detail))
        message = conversation.tool_output(call, action, status, payload, self._task.redact_patterns)
        return outcome, message

    def _allowed_names(self) -> list[str]:
        return [spec.name for spec in self._allowed.specs()]

    async def _refused(
        self, step: int, index: int, call: ToolCall, reason: str, extra: dict[str, Any]
    ) -> None:
        data = {
            "tool": call.name,
            "reason": reason,
            "arguments": redact_with(call.arguments[:500], self._task.redact_patterns),
            **extra,
        }
        event = workflow_event(
            AuditKind.AGENT_TOOL_REFUSED,
            # By position too: a model may send the same call id twice, and each refusal is a record.
            f"refused/{index}/{call.id}",
            actor=gate_state().actor,
            step=step,
            data=data,
            action=data.get("action") or None,
        )
        await record_events([event])

    # --- progress, continue-as-new, the end -----------------------------------------------------

    def _show(self, waiting_for: str, line: str) -> None:
        """Progress for the query and the UI's header, and `line` under it in current details."""
        self._progress = AgentProgress.of(
            self._usage, self._task.budget, waiting_for, self._model, self._scripted
        )
        set_details_header(header(self._progress))
        show_details(line)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() >= self._task.history_limit
            or info.is_continue_as_new_suggested()
        )

    def _continue_as_new(self, messages: list[ChatMessage]) -> None:
        carry = AgentCarry(
            messages=conversation.compact(messages),
            usage=self._usage,
            tools=self._tools,
            consecutive_errors=self._errors,
            gate_step=gate_state().step,
            runs=self._runs + 1,
        )
        workflow.continue_as_new(self._task.model_copy(update={"carried": carry}))

    async def _record_started(self, tools: list[ToolSpec]) -> None:
        task = self._task
        data = {
            "goal": redact_with(task.goal, task.redact_patterns),
            "allowed_actions": task.allowed_actions,
            "tools": [t.name for t in tools],
            "unmatched_patterns": self._allowed.unmatched(),
            "budget": task.budget.model_dump(mode="json"),
            # Without fields a task may not set (refused below): they may hold a key.
            "model": task.model.model_dump(mode="json", exclude=set(task.model.model_extra or {})),
            # The task's own policy only tightens the worker's; what of it is ignored, and why.
            "policy": task.policy.summary() if task.policy is not None else None,
        }
        await record_events(
            [
                workflow_event(
                    AuditKind.AGENT_STARTED, "agent_started", actor=gate_state().actor, step=0, data=data
                )
            ]
        )

    async def _finish(
        self,
        reason: StopReason,
        answer: str | None,
        output: dict[str, Any] | None,
        *,
        detail: str | None = None,
        not_run: int = 0,
    ) -> AgentTaskResult:
        result = AgentTaskResult(
            status=reason,
            detail=detail,
            answer=answer,
            output=output,
            usage=self._usage,
            tools=self._tools,
            model=self._model,
            scripted=self._scripted,
            runs=self._runs,
        )
        data = {
            "status": reason.value,
            "detail": detail,
            "answer": (answer or "")[:600],
            "totals": self._usage.model_dump(mode="json"),
            "tool_calls": len(self._tools),
            "model": self._model,
            "scripted": self._scripted,
            "runs": self._runs,
        }
        if not_run:
            data["calls_not_run"] = not_run  # proposed in the last turn, never run
        await record_events(
            [
                workflow_event(
                    AuditKind.AGENT_FINISHED, "agent_finished", actor=gate_state().actor, step=None, data=data
                )
            ]
        )
        self._show(f"done: {reason.value}", f"Finished: **{reason.value}**")
        if reason is not StopReason.ANSWERED and workflow.patched(_STOPPED_FAILS):
            raise ApplicationError(
                f"stopped: {reason.value}: {detail or 'no answer'}",
                result.model_dump(mode="json"),
                type=AGENT_STOPPED,
                non_retryable=True,
            )
        return result


def _cause(exc: ActivityError) -> str:
    cause = exc.cause
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
