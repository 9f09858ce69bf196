"""A hostile or broken OpenAI-compatible provider, through the real `openai` client: usage that
lies (negative, fractional, text, absurd), no usage, oversize and garbage HTTP 200 answers. Each is
a typed error or an estimate, never a number added as reported; every attempt says what it cost."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from retrofit.llm.client import (
    BadUsageError,
    OversizeAnswerError,
    UnusableAnswerError,
    attempt,
    complete,
)
from retrofit.llm.contracts import ChatMessage, LlmRequest
from retrofit.llm.scripted_server import Script, ScriptedTurn
from retrofit.llm.settings import LlmSettings
from retrofit.sdk.errors import NonRetryableError
from tests.support import ScriptedModel, priced

ASK = LlmRequest(messages=[ChatMessage(role="user", content="How many invoices are overdue?")])


def _play(scripted: ScriptedModel, **turn: Any) -> None:
    scripted.play(Script(turns=[ScriptedTurn(**{"content": "Three.", **turn})]))


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -30_000_000, "completion_tokens": -30_000_000, "total_tokens": -60_000_000},
        {"prompt_tokens": 12, "completion_tokens": -1},
        {"prompt_tokens": 12.5, "completion_tokens": 3},
        {"prompt_tokens": "12", "completion_tokens": 3},
        {"prompt_tokens": True, "completion_tokens": 3},
        {"prompt_tokens": 12},
        {"total_tokens": 15},
        {"prompt_tokens": None, "completion_tokens": None},
    ],
    ids=[
        "negative",
        "negative-completion",
        "fractional",
        "text",
        "boolean",
        "partial",
        "total-only",
        "nulls",
    ],
)
async def test_usage_that_is_not_whole_non_negative_numbers_is_a_typed_error_and_estimated(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI, usage: dict[str, Any]
) -> None:
    _play(scripted, usage=usage)

    tried = await attempt(client, settings, ASK)

    assert isinstance(tried.error, BadUsageError) and tried.error.code == "bad_usage"
    assert tried.outcome == "bad_usage" and tried.response is None
    # Never the reported numbers: an estimate from the sizes, marked as such and counted.
    assert tried.usage.source == "estimated" and tried.usage.billed
    assert tried.usage.prompt_tokens > 0 and tried.usage.completion_tokens >= 0
    # What the provider claimed is kept for the audit trail.
    assert tried.rejected_usage is not None and "tokens" in tried.rejected_usage
    with pytest.raises(BadUsageError, match="not believable"):
        await complete(client, settings, ASK)


@pytest.mark.parametrize(
    ("usage", "problem"),
    [
        ({"prompt_tokens": 20, "completion_tokens": 10**9}, "over the ceiling"),
        ({"prompt_tokens": 5_000_000, "completion_tokens": 3}, "prompt tokens for a request of"),
    ],
    ids=["completion-over-ceiling", "prompt-larger-than-the-request"],
)
async def test_absurd_usage_is_refused(
    scripted: ScriptedModel,
    settings: LlmSettings,
    client: openai.AsyncOpenAI,
    usage: dict[str, int],
    problem: str,
) -> None:
    _play(scripted, usage=usage)

    tried = await attempt(client, settings, ASK)

    assert isinstance(tried.error, BadUsageError) and problem in tried.error.message
    assert tried.usage.source == "estimated"
    assert tried.usage.completion_tokens <= settings.max_completion_tokens
    assert tried.usage.prompt_tokens < 1000


async def test_large_but_plausible_usage_is_believed_and_priced_by_the_requested_model(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    # The provider answers under a free (scripted) model's name; the price is the one asked for.
    _play(scripted, usage={"prompt_tokens": 900, "completion_tokens": 30_000})
    paid = priced(settings, "gpt-4o", 2.5, 10.0)

    tried = await attempt(client, paid, ASK.model_copy(update={"model": "gpt-4o"}))

    assert tried.error is None and tried.response is not None
    assert tried.usage.source == "reported"
    assert (tried.usage.prompt_tokens, tried.usage.completion_tokens) == (900, 30_000)
    assert tried.response.model == "retrofit-scripted"
    assert tried.usage.cost_usd == pytest.approx((900 * 2.5 + 30_000 * 10.0) / 1e6)


async def test_missing_usage_is_estimated_by_default_and_an_error_when_the_operator_says_so(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    _play(scripted, omit_usage=True)

    tried = await attempt(client, settings, ASK)
    assert tried.error is None and tried.response is not None
    assert tried.usage.source == "estimated"
    assert tried.usage.prompt_tokens > 0 and tried.usage.completion_tokens > 0
    # What enters history is the counted (estimated) usage, not zero.
    assert tried.response.prompt_tokens == tried.usage.prompt_tokens

    strict = settings.model_copy(update={"missing_usage": "error"})
    refused = await attempt(client, strict, ASK)
    assert isinstance(refused.error, BadUsageError) and "no usage" in refused.error.message
    assert refused.usage.source == "estimated"


async def test_an_oversize_answer_is_refused_once_and_still_costs_its_reported_usage(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 20_000}
    _play(scripted, pad_to_bytes=settings.max_response_bytes + 10_000, usage=usage)

    tried = await attempt(client, settings, ASK)

    assert isinstance(tried.error, OversizeAnswerError) and tried.outcome == "oversize_answer"
    assert isinstance(tried.error, NonRetryableError)  # retrying would pay for it again
    assert tried.usage.source == "reported"  # read whole: its usage was readable
    assert (tried.usage.prompt_tokens, tried.usage.completion_tokens) == (10, 20_000)
    assert len(scripted.requests()) == 1


async def test_a_huge_answer_is_cut_off_unread_and_estimated(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    _play(scripted, pad_to_bytes=3_000_000)

    tried = await attempt(client, settings, ASK)

    assert isinstance(tried.error, OversizeAnswerError)
    # Too big to read whole for its usage: estimated, and bounded by the ceiling.
    assert tried.usage.source == "estimated"
    assert tried.usage.completion_tokens == settings.max_completion_tokens


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>502 Bad Gateway</body></html>",
        "",
        "[1, 2, 3]",
        '{"id": "x", "choices": []}',
        '{"choices": [{"message": {"content": 42}}]}',
        '{"choices": [{"message": {"tool_calls": [{"id": "c1", "function": {"arguments": "{}"}}]}}]}',
        '{"choices": "everything", "usage": {"prompt_tokens": 7, "completion_tokens": 2}}',
    ],
    ids=["html", "empty", "array", "no-choices", "content-not-text", "call-without-name", "choices-text"],
)
async def test_a_garbage_200_is_an_unusable_answer_never_an_exception_that_escapes(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI, body: str
) -> None:
    _play(scripted, raw_body=body)

    tried = await attempt(client, settings, ASK)

    assert isinstance(tried.error, UnusableAnswerError)
    assert tried.usage.billed  # it may have been billed: counted
    with pytest.raises(UnusableAnswerError):
        await complete(client, settings, ASK)


async def test_garbage_with_readable_usage_is_counted_as_reported(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    _play(
        scripted, raw_body='{"choices": "everything", "usage": {"prompt_tokens": 7, "completion_tokens": 2}}'
    )

    tried = await attempt(client, settings, ASK)

    assert tried.outcome == "unusable_answer"
    assert (tried.usage.source, tried.usage.prompt_tokens, tried.usage.completion_tokens) == (
        "reported",
        7,
        2,
    )


async def test_an_error_status_costs_nothing_and_an_unreachable_provider_neither(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    scripted.fail_next(503)
    refused = await attempt(client, settings, ASK)
    assert refused.outcome == "http_503" and refused.usage.source == "none"
    assert not refused.usage.billed and refused.usage.cost_usd == 0.0

    nowhere = settings.model_copy(update={"base_url": "http://127.0.0.1:9/v1", "timeout_seconds": 2.0})
    async with openai.AsyncOpenAI(base_url=nowhere.base_url, api_key="k", max_retries=0) as other:
        unreachable = await attempt(other, nowhere, ASK)
    assert unreachable.outcome == "connection" and unreachable.usage.source == "none"
