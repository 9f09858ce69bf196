"""One model call through the real `openai` client: activity-side code (it does I/O).

The client's own retries are off (`max_retries=0`): Temporal retries the activity, honouring the
`retry_after` that `llm_error` puts on a `RetryableError`. Errors map once, here, onto the SDK's
error tree, so `retrofit.execution.error_mapping` handles a model call like any connector call:

    APITimeoutError, APIConnectionError, HTTP 408/409/429/5xx -> RetryableError(retry_after)
    HTTP 401/403                                              -> AuthError
    HTTP 400/404/422, other 4xx, unexpected responses         -> NonRetryableError
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam, ChatCompletionToolParam

from retrofit.llm.contracts import ChatMessage, LlmRequest, LlmResponse, ToolCall, ToolSpec
from retrofit.llm.settings import LlmSettings
from retrofit.redaction import redact_text
from retrofit.sdk.errors import AuthError, NonRetryableError, RetrofitError, RetryableError
from retrofit.sdk.retry_after import parse_retry_after

SCRIPTED_HEADER = "x-retrofit-scripted"
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_MAX_DETAILS = 300


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
    model = request.model or settings.model
    temperature = settings.temperature if request.temperature is None else request.temperature
    started = time.perf_counter()
    try:
        # Retries off even on a client built elsewhere: Temporal owns retries.
        raw = await client.with_options(max_retries=0).chat.completions.with_raw_response.create(
            model=model,
            messages=[_message_param(m) for m in request.messages],
            tools=[_tool_param(t) for t in request.tools] if request.tools else openai.omit,
            temperature=temperature,
            timeout=settings.timeout_seconds,
        )
        completion: ChatCompletion = raw.parse()
    except openai.OpenAIError as exc:
        raise llm_error(exc) from exc
    latency_ms = (time.perf_counter() - started) * 1000
    if not completion.choices:
        raise NonRetryableError(f"model {completion.model!r} answered no choices")
    message = completion.choices[0].message
    calls = [
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
        for call in message.tool_calls or []
        if call.type == "function"
    ]
    usage = completion.usage
    prompt_tokens = usage.prompt_tokens if usage else 0
    completion_tokens = usage.completion_tokens if usage else 0
    answered_by = completion.model or model
    price = settings.price_of(answered_by) or settings.price_of(model)
    return LlmResponse(
        content=message.content,
        tool_calls=calls,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=latency_ms,
        cost_usd=price.cost(prompt_tokens, completion_tokens) if price else None,
        model=answered_by,
        scripted=raw.headers.get(SCRIPTED_HEADER, "").lower() == "true",
    )


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
        return NonRetryableError(f"unusable model response: {_short(exc.message)}")
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
    param: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        param["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
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
