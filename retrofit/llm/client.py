"""One model call through the real `openai` client: activity-side code (it does I/O).

The client's own retries are off (`max_retries=0`): Temporal retries the activity, honouring the
`retry_after` that `llm_error` puts on a `RetryableError`. Errors map once, here, onto the SDK's
error tree, so `retrofit.execution.error_mapping` handles a model call like any connector call:

    APITimeoutError, APIConnectionError, HTTP 408/409/429/5xx -> RetryableError(retry_after)
    HTTP 401/403                                              -> AuthError
    HTTP 400/404/422, other 4xx                               -> NonRetryableError
    HTTP 200 that cannot be used                              -> UnusableAnswerError (non-retryable)
        ├── OversizeAnswerError   the body is over RETROFIT_LLM_MAX_RESPONSE_BYTES
        └── BadUsageError         usage negative, not whole numbers, over the ceilings, or
                                  missing when RETROFIT_LLM_MISSING_USAGE=error

Accounting: every attempt says what it may have cost (`Attempt.usage`, see `retrofit.llm.usage`),
whether or not it answered. A provider's own usage is believed only when it is whole numbers,
>= 0, completion tokens at most RETROFIT_LLM_MAX_COMPLETION_TOKENS, and prompt tokens at most
what the request could hold (a token is at least one byte, plus a template allowance). Otherwise,
and for oversize or unparseable answers and for answers lost after the request left, the usage is
an estimate from the sizes, marked `estimated` and counted: a provider that lies about usage, or
answers garbage, still cannot make an agent's budget never trip. An answer with no usage at all
(some OpenAI-compatible servers omit it) is estimated the same way unless the operator sets
RETROFIT_LLM_MISSING_USAGE=error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, cast

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from pydantic import BaseModel, Field, StrictInt, ValidationError

from retrofit.llm.contracts import ChatMessage, LlmRequest, LlmResponse, ToolCall, ToolSpec
from retrofit.llm.settings import LlmSettings
from retrofit.llm.text_tool_calls import parse_text_tool_calls
from retrofit.llm.usage import AttemptUsage, estimate_tokens
from retrofit.redaction.boundary import redact_text
from retrofit.sdk.errors import AuthError, NonRetryableError, RetrofitError, RetryableError
from retrofit.sdk.retry_after import parse_retry_after

SCRIPTED_HEADER = "x-retrofit-scripted"
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_MAX_DETAILS = 300
# What a chat template may add to the request's own text: role markers per message, a system
# preamble for tools. Generous, so a real provider's count is never called absurd.
_TEMPLATE_TOKENS = 2048
_TEMPLATE_TOKENS_PER_MESSAGE = 16
# An oversize body is read on up to this many times the limit, to find its usage; past that it
# is cut off unread (a hostile server must not be able to fill the worker's memory).
_OVERSIZE_READ_FACTOR = 4


class UnusableAnswerError(NonRetryableError):
    """The provider answered HTTP 200 with something that cannot be used. It may well have billed
    it, so the attempt's usage is still counted; retrying would pay again for the same answer."""

    code: ClassVar[str] = "unusable_answer"


class OversizeAnswerError(UnusableAnswerError):
    code: ClassVar[str] = "oversize_answer"


class BadUsageError(UnusableAnswerError):
    code: ClassVar[str] = "bad_usage"


@dataclass(frozen=True)
class Attempt:
    """One request to the provider: the answer or the error, and what it may have cost."""

    usage: AttemptUsage
    latency_ms: float
    outcome: str  # "ok", or what went wrong: "bad_usage", "http_503", "timeout", ...
    response: LlmResponse | None = None
    error: RetrofitError | None = None
    # The usage the provider reported, as text, when it was not believed (for the audit trail).
    rejected_usage: str | None = None


def make_client(settings: LlmSettings) -> openai.AsyncOpenAI:
    """The OpenAI client for `settings`; its retries are off because Temporal retries."""
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key.get_secret_value(),
        timeout=settings.timeout_seconds,
        max_retries=0,
    )


async def complete(client: openai.AsyncOpenAI, settings: LlmSettings, request: LlmRequest) -> LlmResponse:
    """Send `request` as one chat completion; raise only `RetrofitError`s."""
    result = await attempt(client, settings, request)
    if result.error is not None:
        raise result.error
    assert result.response is not None
    return result.response


async def attempt(client: openai.AsyncOpenAI, settings: LlmSettings, request: LlmRequest) -> Attempt:
    """Send `request` as one chat completion and say what came of it; never raises a provider's
    failure (it is in `Attempt.error`), so the caller can record and count every attempt."""
    model = request.model or settings.model
    temperature = settings.temperature if request.temperature is None else request.temperature
    messages = [_message_param(m) for m in request.messages]
    tools = [_tool_param(t) for t in request.tools]
    request_bytes = len(json.dumps([messages, tools], separators=(",", ":")).encode())
    meter = _Meter(settings, model, request_bytes, len(messages))
    started = time.perf_counter()
    try:
        # A total deadline as well as the client's per-read timeout: a server that drips bytes
        # must not hold the attempt open for ever.
        async with asyncio.timeout(settings.timeout_seconds):
            # Retries off even on a client built elsewhere: Temporal owns retries. Streamed, so the
            # body is read only up to the size limit.
            async with client.with_options(max_retries=0).chat.completions.with_streaming_response.create(
                model=model,
                messages=messages,
                tools=tools or openai.omit,
                temperature=temperature,
                timeout=settings.timeout_seconds,
            ) as raw:
                body, complete_body = await _read_capped(raw.iter_bytes(), settings.max_response_bytes)
                scripted = raw.headers.get(SCRIPTED_HEADER, "").lower() == "true"
    except openai.OpenAIError as exc:
        return meter.failed(llm_error(exc), _failure_outcome(exc), started, sent=_was_sent(exc))
    except (TimeoutError, httpx2.TransportError) as exc:
        # The request left; its answer did not arrive whole: it may have been billed.
        problem = "timed out" if isinstance(exc, TimeoutError) else f"broke off: {type(exc).__name__}"
        error = RetryableError(f"the model provider's answer {problem}")
        return meter.failed(error, "timeout" if isinstance(exc, TimeoutError) else "connection", started)
    latency_ms = (time.perf_counter() - started) * 1000
    return meter.answered(body, complete_body, scripted, latency_ms)


def estimate_request(settings: LlmSettings, request: LlmRequest) -> AttemptUsage:
    """What sending `request` may have cost, when nothing came back to say: its prompt, estimated."""
    messages = [_message_param(m) for m in request.messages]
    tools = [_tool_param(t) for t in request.tools]
    request_bytes = len(json.dumps([messages, tools], separators=(",", ":")).encode())
    return _Meter(settings, request.model or settings.model, request_bytes, len(messages)).estimate()


class _ReportedUsage(BaseModel):
    """The part of a provider's `usage` that is billed: whole, non-negative numbers only."""

    prompt_tokens: StrictInt = Field(ge=0)
    completion_tokens: StrictInt = Field(ge=0)


class _Function(BaseModel):
    name: str
    arguments: str = ""


class _ToolCall(BaseModel):
    id: str
    type: str = "function"
    function: _Function


class _Message(BaseModel):
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(BaseModel):
    message: _Message


class _Answer(BaseModel):
    """The fields of a chat completion Retrofit uses, checked: nothing else is trusted."""

    model: str | None = None
    choices: list[_Choice] = Field(min_length=1)


class _Meter:
    """Prices and checks one attempt's usage."""

    def __init__(self, settings: LlmSettings, model: str, request_bytes: int, messages: int) -> None:
        self._settings = settings
        self._model = model
        self._request_bytes = request_bytes
        self._prompt_ceiling = request_bytes + _TEMPLATE_TOKENS + _TEMPLATE_TOKENS_PER_MESSAGE * messages

    def estimate(self, answer_bytes: int = 0, answered_by: str | None = None) -> AttemptUsage:
        completion = min(estimate_tokens(answer_bytes), self._settings.max_completion_tokens)
        return self._priced("estimated", estimate_tokens(self._request_bytes), completion, answered_by)

    def _priced(
        self, source: str, prompt_tokens: int, completion_tokens: int, answered_by: str | None
    ) -> AttemptUsage:
        # The requested model's price first: the name a provider answers with is its own claim.
        price = self._settings.price_of(self._model) or (
            self._settings.price_of(answered_by) if answered_by else None
        )
        return AttemptUsage.model_validate(
            {
                "source": source,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_usd": price.cost(prompt_tokens, completion_tokens) if price else None,
            }
        )

    def failed(self, error: RetrofitError, outcome: str, started: float, *, sent: bool = True) -> Attempt:
        usage = self.estimate() if sent else AttemptUsage(source="none", cost_usd=0.0)
        return Attempt(usage, (time.perf_counter() - started) * 1000, outcome, error=error)

    def answered(self, body: bytes, complete_body: bool, scripted: bool, latency_ms: float) -> Attempt:
        data: Any = None
        with contextlib.suppress(ValueError):  # not JSON: refused below, still counted
            data = json.loads(body) if complete_body else None
        fields = data if isinstance(data, dict) else {}
        answered_by = fields.get("model") if isinstance(fields.get("model"), str) else None
        usage, usage_problem, rejected = self._reported(fields, len(body), answered_by)

        def unusable(error: UnusableAnswerError) -> Attempt:
            return Attempt(usage, latency_ms, error.code, error=error, rejected_usage=rejected)

        limit = self._settings.max_response_bytes
        if len(body) > limit:
            return unusable(
                OversizeAnswerError(f"the model provider's answer is over {limit:,} bytes; it was not used")
            )
        if not isinstance(data, dict):
            return unusable(UnusableAnswerError("the model provider answered HTTP 200 with no JSON object"))
        if usage_problem is not None:
            return unusable(BadUsageError(f"the model provider's usage is not believable: {usage_problem}"))
        try:
            answer = _Answer.model_validate(data)
        except ValidationError as exc:
            where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
            return unusable(
                UnusableAnswerError(f"the model provider's answer is not a chat completion: {where}")
            )
        message = answer.choices[0].message
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
            for call in message.tool_calls or []
            if call.type == "function"
        ]
        content = message.content
        if not calls and content and self._settings.text_tool_calls:
            # The operator said this endpoint writes its calls as text; native calls win.
            content, calls = parse_text_tool_calls(content)
        response = LlmResponse(
            content=content,
            tool_calls=calls,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_ms=latency_ms,
            cost_usd=usage.cost_usd,
            model=answer.model or self._model,
            scripted=scripted,
        )
        return Attempt(usage, latency_ms, "ok", response=response)

    def _reported(
        self, fields: dict[str, Any], answer_bytes: int, answered_by: str | None
    ) -> tuple[AttemptUsage, str | None, str | None]:
        """(usage to count, why the reported one is not believed, the reported one as text)."""
        raw = fields.get("usage")
        if raw is None and self._settings.missing_usage == "estimate":
            return self.estimate(answer_bytes, answered_by), None, None
        rejected = _short(json.dumps(raw, default=str), 200)
        if raw is None:
            return self.estimate(answer_bytes, answered_by), "the answer carries no usage", rejected
        try:
            reported = _ReportedUsage.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
            )
            return self.estimate(answer_bytes, answered_by), problems, rejected
        ceiling = self._settings.max_completion_tokens
        if reported.completion_tokens > ceiling:
            problem = f"{reported.completion_tokens:,} completion tokens, over the ceiling of {ceiling:,}"
            return self.estimate(answer_bytes, answered_by), problem, rejected
        if reported.prompt_tokens > self._prompt_ceiling:
            problem = (
                f"{reported.prompt_tokens:,} prompt tokens for a request of {self._request_bytes:,} bytes "
                f"(at most {self._prompt_ceiling:,})"
            )
            return self.estimate(answer_bytes, answered_by), problem, rejected
        usage = self._priced("reported", reported.prompt_tokens, reported.completion_tokens, answered_by)
        return usage, None, None


async def _read_capped(chunks: Any, limit: int) -> tuple[bytes, bool]:
    """The body, read on to `limit` × `_OVERSIZE_READ_FACTOR` bytes at most; and whether it is
    whole (an oversize body read whole can still tell its usage)."""
    cutoff = limit * _OVERSIZE_READ_FACTOR
    body = bytearray()
    async for chunk in chunks:
        body.extend(chunk)
        if len(body) > cutoff:
            return bytes(body), False
    return bytes(body), True


def _was_sent(exc: openai.OpenAIError) -> bool:
    """Whether the provider may have done (and billed) work: not for a refused connection or an
    error status (providers do not bill refused requests). `httpx2` is the HTTP client `openai`
    is built on; its connect errors are the ones that prove nothing was sent."""
    if isinstance(exc, openai.APIStatusError):
        return False
    if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
        return not isinstance(exc.__cause__, httpx2.ConnectError | httpx2.ConnectTimeout)
    return True


def _failure_outcome(exc: openai.OpenAIError) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    return "provider_error"


def llm_error(exc: openai.OpenAIError) -> RetrofitError:
    """The SDK error for an `openai` exception: the one place model-call failures are classified."""
    if isinstance(exc, openai.APITimeoutError):
        return RetryableError("model provider timed out")
    if isinstance(exc, openai.APIConnectionError):
        return RetryableError(f"could not reach the model provider: {exc.message}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = f"model provider answered HTTP {status}: {_short(exc.message)}"
        details = _details(exc.body)
        if status in _RETRYABLE_STATUS or status >= 500:
            return RetryableError(message, retry_after=retry_after(exc.response.headers), details=details)
        if status in (401, 403):
            return AuthError(message, details=details)
        return NonRetryableError(message, details=details)
    if isinstance(exc, openai.APIError):  # e.g. a response that does not parse
        return UnusableAnswerError(f"unusable model response: {_short(exc.message)}")
    return NonRetryableError(f"{type(exc).__name__}: {_short(str(exc))}")


def retry_after(headers: Any) -> timedelta | None:
    """`retry-after-ms`, or `retry-after` as seconds or an HTTP date; None when absent or bad."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return timedelta(milliseconds=max(0.0, float(milliseconds)))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:  # model providers send fractional seconds too
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        return parse_retry_after(value)


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    # Never `content: null`: OpenAI allows it on an assistant turn that calls tools, but local
    # OpenAI-compatible servers do not (llama.cpp's answers HTTP 500 to null, and some of its
    # versions to a missing `content` too); an empty string means the same to every server.
    param: dict[str, Any] = {"role": message.role, "content": message.content or ""}
    if message.tool_calls:
        param["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                # Empty arguments are not JSON; servers that parse them to render their chat
                # template fail on them, so they go as the empty object they stand for.
                "function": {"name": call.name, "arguments": call.arguments or "{}"},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        param["tool_call_id"] = message.tool_call_id
    if message.name is not None and message.role in ("system", "user", "assistant"):
        param["name"] = message.name
    # The role decides which TypedDict of the union this is; the fields above follow it.
    return cast(ChatCompletionMessageParam, param)


def _tool_param(tool: ToolSpec) -> ChatCompletionToolParam:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def _details(body: object | None) -> str | None:
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return _short(redact_text(text), _MAX_DETAILS)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
