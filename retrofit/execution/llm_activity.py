"""The LLM activity (`retrofit.llm.complete`): one model turn for an agent, through the real `openai`
client, with redaction, fallback, the response cache and the audit record of the decision.

- Redaction: every text in the request is redacted once more here, the last point before it
  leaves for the provider, and the answer is redacted before it returns into history.
- Endpoints: by NAME only (`LlmSettings.endpoint_names()`): each name resolves, on the worker, to
  the base URL and the key the operator configured for it; one client per name, so a key is only
  ever sent to its own endpoint. A call that names an endpoint or model the worker does not offer,
  or carries a URL or a key variable, is refused before anything is sent (`ModelChoiceRefused`,
  recorded as a `not_configured` attempt).
- Fallback: Temporal retries the activity; attempt n uses endpoint `(n - 1) // fallback_after`, so
  a primary that keeps failing retryably hands over to the next endpoint in the list (the task's
  names, or else the primary and then the operator's RETROFIT_LLM_FALLBACKS).
- Cache: with `use_cache`, a request identical to one answered before (same model, temperature,
  messages, tools) is answered from the cache: 0 new tokens, 0 cost, recorded as a cache hit.
- Audit: each attempt is one `llm.attempt` record (attempt number, endpoint, outcome `ok` or what
  went wrong, usage `reported` / `estimated` / `cached` / `none` with its tokens and cost, latency),
  an earlier attempt that never reported one is recorded `lost` with an estimate; each answer is one
  `llm.decision` record (model, prompt hash, tool calls proposed, tokens, cost, latency, cache hit,
  scripted); each failed attempt also one `action.attempt_failed` record.
- Accounting: the answer (or the last attempt's error, as a detail) carries the turn's bill, the
  sum of its `llm.attempt` records read back from the audit trail, so the agent's totals count
  every attempt the provider may have billed: failed, oversize and unparseable ones included.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import openai
from temporalio import activity
from temporalio.exceptions import ApplicationError

from retrofit.audit.events import AuditEvent, AuditKind
from retrofit.execution.error_mapping import classify
from retrofit.execution.resources import WorkerResources
from retrofit.gate.contracts import event_id
from retrofit.llm.cache import ResponseCache
from retrofit.llm.client import Attempt, attempt, estimate_request, make_client
from retrofit.llm.contracts import (
    LLM_ACTIVITY,
    MODEL_CHOICE_REFUSED,
    PRIMARY_ENDPOINT,
    LlmCall,
    LlmRequest,
    LlmResponse,
    ModelEndpoint,
)
from retrofit.llm.settings import EndpointRefused, LlmSettings
from retrofit.llm.usage import BILL_DETAIL, AttemptUsage, StepUsage
from retrofit.observability import record_llm_call
from retrofit.redaction.boundary import redacted_turn
from retrofit.sdk.errors import NonRetryableError, RetrofitError

_MAX_CONTENT_IN_AUDIT = 600


class ModelChoiceRefusedError(NonRetryableError):
    """The call names an endpoint or model this worker does not offer, or a URL or key variable."""


class LlmRuntime:
    """What the LLM activity keeps per worker: settings, one client per endpoint name, the cache."""

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self._clients: dict[str, openai.AsyncOpenAI] = {}
        self._cache: ResponseCache | None = None

    def chain(self, call: LlmCall) -> list[ModelEndpoint]:
        """The endpoints this turn tries: the task's names, or the primary then the operator's
        fallbacks."""
        if call.endpoints:
            return list(call.endpoints)
        first = ModelEndpoint(name=PRIMARY_ENDPOINT, model=call.request.model)
        return [first, *(ModelEndpoint(name=name) for name in self.settings.fallbacks)]

    def settings_for(self, endpoint: ModelEndpoint) -> LlmSettings:
        """The settings of one named endpoint (its URL, its key, the model); refused otherwise."""
        if endpoint.base_url is not None or endpoint.api_key_env is not None:
            raise ModelChoiceRefusedError(
                f"model endpoint {endpoint.name!r} is given a base URL or key variable by the task: "
                "refused; endpoints are chosen by name, their URLs and keys are the operator's"
            )
        try:
            return self.settings.for_endpoint(endpoint.name, endpoint.model)
        except EndpointRefused as exc:
            raise ModelChoiceRefusedError(str(exc)) from None

    def refusal(self, endpoints: list[ModelEndpoint]) -> ModelChoiceRefusedError | None:
        """The first endpoint of the chain this worker would refuse: checked for the whole chain
        before the first request, so a bad fallback name never waits for the primary to fail."""
        for endpoint in endpoints:
            try:
                self.settings_for(endpoint)
            except ModelChoiceRefusedError as exc:
                return exc
        return None

    def client_for(self, endpoint: ModelEndpoint) -> tuple[openai.AsyncOpenAI, LlmSettings]:
        """The client of a named endpoint: built from that endpoint's own base URL and key only."""
        settings = self.settings_for(endpoint)
        client = self._clients.get(endpoint.name)
        if client is None:
            client = self._clients[endpoint.name] = make_client(settings)
        return client, settings

    async def cache(self) -> ResponseCache:
        if self._cache is None:
            self._cache = await ResponseCache.open(self.settings.cache_url)
        return self._cache

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        if self._cache is not None:
            await self._cache.close()
            self._cache = None


def build_llm_activity(
    runtime: LlmRuntime, resources: WorkerResources
) -> Callable[[LlmCall], Awaitable[LlmResponse]]:
    @activity.defn(name=LLM_ACTIVITY)
    async def complete_turn(call: LlmCall) -> LlmResponse:
        info = activity.info()
        if info.workflow_id is None or info.workflow_run_id is None:
            raise RuntimeError(f"{LLM_ACTIVITY} must be called from a workflow")
        endpoints = runtime.chain(call)
        index = min((info.attempt - 1) // call.fallback_after, len(endpoints) - 1)
        refused = runtime.refusal(endpoints)
        target = runtime.settings_for(endpoints[index]) if refused is None else runtime.settings
        endpoint = endpoints[index].model_copy(
            update={"model": target.model if refused is None else endpoints[index].model or target.model}
        )
        model = endpoint.model or target.model
        request = outbound(call.request, model, call.redactions)
        temperature = runtime.settings.temperature if request.temperature is None else request.temperature
        prompt_hash = request_hash(request, temperature)
        base_url = target.base_url if refused is None else ""
        cache_key = answer_cache_key(prompt_hash, endpoint.name, base_url, target.text_tool_calls)
        audit = _Audit(call, info.workflow_id, info.workflow_run_id, info.attempt, endpoint, index, base_url)

        started = time.perf_counter()
        recorded = (
            await _earlier_attempts(resources, info.workflow_id, info.workflow_run_id, call.step)
            if info.attempt > 1
            else {}
        )
        # An earlier attempt with no record never reported (its worker died, it timed out): the
        # provider may have billed it, so it is recorded as lost, with an estimate, and counted.
        lost = [n for n in range(1, info.attempt) if n not in recorded]
        settings = target
        cached = await (await runtime.cache()).get(cache_key) if call.use_cache and refused is None else None
        if cached is not None:
            latency = (time.perf_counter() - started) * 1000
            tried = Attempt(AttemptUsage(source="cached", cost_usd=0.0), latency, "ok", response=cached)
        else:
            try:
                if refused is not None:
                    raise refused
                client, settings = runtime.client_for(endpoint)
            except RetrofitError as exc:  # the worker cannot call this endpoint: nothing was sent
                tried = Attempt(AttemptUsage(source="none", cost_usd=0.0), 0.0, "not_configured", error=exc)
            else:
                tried = await attempt(client, settings, request)
        guess = estimate_request(settings, request) if lost else None
        billed = StepUsage.of([*recorded.values(), *(guess for _ in lost if guess), tried.usage])
        events = [audit.lost_attempt(n, guess) for n in lost if guess]
        events.append(audit.attempt_record(tried))
        record_llm_call(
            model,
            tried.usage.prompt_tokens,
            tried.usage.completion_tokens,
            tried.usage.cost_usd or 0.0,
            tried.usage.source == "cached",
        )
        if tried.error is not None:
            error = classify(tried.error)
            events.append(audit.attempt_failed(error.type, error.message, error.retryable))
            await resources.record(events)
            failure = error.to_application_error()
            if isinstance(tried.error, ModelChoiceRefusedError):  # the workflow stops, clearly
                failure = ApplicationError(error.message, type=MODEL_CHOICE_REFUSED, non_retryable=True)
            raise _with_bill(failure, billed) from tried.error
        assert tried.response is not None
        if cached is not None:
            response = cached.model_copy(
                update={
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "cost_usd": 0.0,
                    "cache_hit": True,
                    "latency_ms": tried.latency_ms,
                }
            )
        else:
            response = inbound(tried.response, call.redactions)
            if call.use_cache:
                await (await runtime.cache()).put(cache_key, response)
        response = response.model_copy(
            update={
                "endpoint": index,
                "endpoint_name": endpoint.name,
                "prompt_hash": prompt_hash,
                "billed": billed,
                "max_tool_calls": runtime.settings.max_tool_calls_per_turn,
            }
        )
        events.append(audit.decision(response, tried.usage.source))
        await resources.record(events)
        return response

    return complete_turn


def outbound(request: LlmRequest, model: str, redactions: dict[str, str]) -> LlmRequest:
    """The request as it may leave: the endpoint's model, every text redacted."""
    messages = [
        message.model_copy(update=redacted_turn(message.content, message.tool_calls, redactions))
        for message in request.messages
    ]
    return request.model_copy(update={"messages": messages, "model": model})


def inbound(response: LlmResponse, redactions: dict[str, str]) -> LlmResponse:
    """The answer as it may enter history: whatever the provider wrote, redacted."""
    return response.model_copy(update=redacted_turn(response.content, response.tool_calls, redactions))


def request_hash(request: LlmRequest, temperature: float) -> str:
    """The prompt hash: what the audit trail records and the cache is keyed by."""
    canonical = {
        "model": request.model,
        "temperature": temperature,
        "messages": [m.model_dump(mode="json", exclude_defaults=True) for m in request.messages],
        "tools": [t.model_dump(mode="json") for t in request.tools],
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def answer_cache_key(prompt_hash: str, endpoint: str, base_url: str, text_tool_calls: bool) -> str:
    """The cache key: the prompt, and who answers it how. Two endpoints may serve one model name
    (a provider and a local server, one reading tool calls from text): never each other's answers."""
    where = json.dumps([prompt_hash, endpoint, base_url, text_tool_calls], separators=(",", ":"))
    return hashlib.sha256(where.encode()).hexdigest()


class _Audit:
    def __init__(
        self,
        call: LlmCall,
        workflow_id: str,
        run_id: str,
        attempt: int,
        endpoint: ModelEndpoint,
        index: int,
        base_url: str,
    ) -> None:
        self._base_url = base_url
        self._call = call
        self._workflow_id = workflow_id
        self._run_id = run_id
        self._attempt = attempt
        self._endpoint = endpoint
        self._model = endpoint.model or ""  # the resolved model (set by the caller)
        self._index = index

    def _event(
        self, kind: AuditKind, suffix: str, data: dict[str, Any], actor_name: str, attempt: int | None = None
    ) -> AuditEvent:
        return AuditEvent(
            event_id=event_id(self._workflow_id, self._run_id, self._call.step, suffix),
            kind=kind,
            actor=self._call.actor.model_copy(update={"name": actor_name}),
            workflow_id=self._workflow_id,
            run_id=self._run_id,
            workflow_type=self._call.workflow_type,
            step=self._call.step,
            action="llm.complete",
            attempt=self._attempt if attempt is None else attempt,
            data=data,
            occurred_at=datetime.now(UTC),
        )

    def _where(self) -> dict[str, Any]:
        return {
            "endpoint": self._index,
            "endpoint_name": self._endpoint.name,
            "host": _host(self._base_url),
            "requested_model": self._model,
        }

    def attempt_failed(self, error_type: str, message: str, retryable: bool) -> AuditEvent:
        data = {"error_type": error_type, "error": message, "retryable": retryable, **self._where()}
        return self._event(AuditKind.ATTEMPT_FAILED, f"llm_failed/{self._attempt}", data, self._model)

    def attempt_record(self, tried: Attempt) -> AuditEvent:
        """`llm.attempt`: one request to the provider, what came of it and what it may have cost."""
        data = _usage_data(self._attempt, tried.outcome, tried.usage, round(tried.latency_ms, 3))
        if tried.rejected_usage is not None:
            data["reported_usage"] = tried.rejected_usage
        data.update(self._where())
        return self._event(
            AuditKind.LLM_ATTEMPT, f"llm_attempt/{self._attempt}", data, self._model, self._attempt
        )

    def lost_attempt(self, number: int, usage: AttemptUsage) -> AuditEvent:
        """`llm.attempt` for an earlier attempt that never reported: outcome lost, usage estimated.
        Written under that attempt's own event id, so if it does report after all, its own
        record and this one are the same record (whichever came first)."""
        data = {**_usage_data(number, "lost", usage, None), **self._where()}
        return self._event(AuditKind.LLM_ATTEMPT, f"llm_attempt/{number}", data, self._model, number)

    def decision(self, response: LlmResponse, usage_source: str) -> AuditEvent:
        content = response.content or ""
        data: dict[str, Any] = {
            "model": response.model,
            "scripted": response.scripted,
            "prompt_hash": response.prompt_hash,
            "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in response.tool_calls],
            "content": content[:_MAX_CONTENT_IN_AUDIT],
            "prompt_tokens": response.prompt_tokens,
            "completion_tokens": response.completion_tokens,
            "cost_usd": response.cost_usd,
            "latency_ms": round(response.latency_ms, 3),
            "cache_hit": response.cache_hit,
            "usage": usage_source,
            "attempts": response.billed.attempts if response.billed else 1,
            "messages": len(self._call.request.messages),
            **self._where(),
        }
        return self._event(AuditKind.LLM_DECISION, "llm", data, response.model)


def _host(base_url: str) -> str | None:
    # Host only: a URL may carry credentials or tenant paths; the audit trail needs neither.
    return urlsplit(base_url).hostname if base_url else None


def _usage_data(number: int, outcome: str, usage: AttemptUsage, latency_ms: float | None) -> dict[str, Any]:
    return {
        "attempt": number,
        "outcome": outcome,
        "usage": usage.source,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": usage.cost_usd,
        "latency_ms": latency_ms,
    }


async def _earlier_attempts(
    resources: WorkerResources, workflow_id: str, run_id: str, step: int
) -> dict[int, AttemptUsage]:
    """The usage recorded by this model turn's earlier attempts, by attempt number. Read from the
    audit trail, the one place every attempt writes to, so the turn's bill covers all of them."""
    records = await resources.store.for_workflow(workflow_id)
    return {
        int(record.data["attempt"]): AttemptUsage(
            source=record.data["usage"],
            prompt_tokens=record.data["prompt_tokens"],
            completion_tokens=record.data["completion_tokens"],
            cost_usd=record.data["cost_usd"],
        )
        for record in records
        if record.kind is AuditKind.LLM_ATTEMPT and record.run_id == run_id and record.step == step
    }


def _with_bill(error: ApplicationError, billed: StepUsage) -> ApplicationError:
    """`error` with the turn's bill as one more detail: the workflow sees only the last attempt's
    error, and counts every attempt of the turn from it."""
    return ApplicationError(
        error.message,
        *error.details,
        {BILL_DETAIL: billed.model_dump(mode="json")},
        type=error.type,
        non_retryable=error.non_retryable,
        next_retry_delay=error.next_retry_delay,
    )
