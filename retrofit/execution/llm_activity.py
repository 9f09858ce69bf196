"""The LLM activity (`retrofit.llm.complete`): one model turn for an agent, through the real `openai`
client, with redaction, fallback, the response cache and the audit record of the decision.

- Redaction: every text in the request is redacted once more here, the last point before it
  leaves for the provider, and the answer is redacted before it returns into history.
- Fallback: Temporal retries the activity; attempt n uses endpoint `(n - 1) // fallback_after`, so
  a primary that keeps failing retryably hands over to the next endpoint in the list.
- Cache: with `use_cache`, a request identical to one answered before (same model, temperature,
  messages, tools) is answered from the cache: 0 new tokens, 0 cost, recorded as a cache hit.
- Audit: each answer is one `llm.decision` record (model, prompt hash, tool calls proposed, tokens,
  cost, latency, cache hit, scripted); each failed attempt one `action.attempt_failed` record.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import openai
from temporalio import activity

from retrofit.audit.events import AuditEvent, AuditKind
from retrofit.execution.error_mapping import classify
from retrofit.execution.resources import WorkerResources
from retrofit.gate.contracts import event_id
from retrofit.llm.cache import ResponseCache
from retrofit.llm.client import complete, make_client
from retrofit.llm.contracts import (
    LLM_ACTIVITY,
    LlmCall,
    LlmRequest,
    LlmResponse,
    ModelEndpoint,
    redacted_turn,
)
from retrofit.llm.settings import LlmSettings
from retrofit.observability import record_llm_call
from retrofit.sdk.errors import NonRetryableError, RetrofitError

_MAX_CONTENT_IN_AUDIT = 600


class LlmRuntime:
    """What the LLM activity keeps per worker: settings, one client per endpoint, the cache."""

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self._clients: dict[tuple[str, str | None], openai.AsyncOpenAI] = {}
        self._cache: ResponseCache | None = None

    def client_for(self, endpoint: ModelEndpoint) -> tuple[openai.AsyncOpenAI, LlmSettings]:
        base_url = endpoint.base_url or self.settings.base_url
        key = (base_url, endpoint.api_key_env)
        settings = self.settings.model_copy(update={"base_url": base_url, "model": endpoint.model})
        if endpoint.api_key_env is not None:
            secret = os.environ.get(endpoint.api_key_env)
            if not secret:
                raise NonRetryableError(
                    f"model endpoint {endpoint.model!r} names key variable {endpoint.api_key_env}, "
                    "which is not set on this worker"
                )
            settings = settings.model_copy(update={"api_key": secret})
        if key not in self._clients:
            self._clients[key] = make_client(settings)
        return self._clients[key], settings

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
        endpoints = call.endpoints or [ModelEndpoint(model=call.request.model or runtime.settings.model)]
        index = min((info.attempt - 1) // call.fallback_after, len(endpoints) - 1)
        endpoint = endpoints[index]
        request = outbound(call.request, endpoint.model, call.redactions)
        temperature = runtime.settings.temperature if request.temperature is None else request.temperature
        prompt_hash = request_hash(request, temperature)
        base_url = endpoint.base_url or runtime.settings.base_url
        audit = _Audit(call, info.workflow_id, info.workflow_run_id, info.attempt, endpoint, index, base_url)

        started = time.perf_counter()
        cached = await (await runtime.cache()).get(prompt_hash) if call.use_cache else None
        if cached is not None:
            response = cached.model_copy(
                update={
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "cost_usd": 0.0,
                    "cache_hit": True,
                    "latency_ms": (time.perf_counter() - started) * 1000,
                }
            )
        else:
            try:
                client, settings = runtime.client_for(endpoint)
                answered = await complete(client, settings, request)
            except RetrofitError as exc:
                error = classify(exc)
                await resources.record([audit.attempt_failed(error.type, error.message, error.retryable)])
                raise error.to_application_error() from exc
            response = inbound(answered, call.redactions)
            if call.use_cache:
                await (await runtime.cache()).put(prompt_hash, response)
        response = response.model_copy(update={"endpoint": index, "prompt_hash": prompt_hash})
        await resources.record([audit.decision(response)])
        record_llm_call(
            response.model,
            response.prompt_tokens,
            response.completion_tokens,
            response.cost_usd or 0.0,
            response.cache_hit,
        )
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
        self._index = index

    def _event(self, kind: AuditKind, suffix: str, data: dict[str, Any], actor_name: str) -> AuditEvent:
        return AuditEvent(
            event_id=event_id(self._workflow_id, self._run_id, self._call.step, suffix),
            kind=kind,
            actor=self._call.actor.model_copy(update={"name": actor_name}),
            workflow_id=self._workflow_id,
            run_id=self._run_id,
            workflow_type=self._call.workflow_type,
            step=self._call.step,
            action="llm.complete",
            attempt=self._attempt,
            data=data,
            occurred_at=datetime.now(UTC),
        )

    def _where(self) -> dict[str, Any]:
        return {
            "endpoint": self._index,
            "host": _host(self._base_url),
            "requested_model": self._endpoint.model,
        }

    def attempt_failed(self, error_type: str, message: str, retryable: bool) -> AuditEvent:
        data = {"error_type": error_type, "error": message, "retryable": retryable, **self._where()}
        return self._event(
            AuditKind.ATTEMPT_FAILED, f"llm_failed/{self._attempt}", data, self._endpoint.model
        )

    def decision(self, response: LlmResponse) -> AuditEvent:
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
            "messages": len(self._call.request.messages),
            **self._where(),
        }
        return self._event(AuditKind.LLM_DECISION, "llm", data, response.model)


def _host(base_url: str) -> str | None:
    # Host only: a URL may carry credentials or tenant paths; the audit trail needs neither.
    return urlsplit(base_url).hostname
