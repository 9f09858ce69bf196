"""One MCP-backed action called as the worker calls it (no workflow): how each failure is classified.

Real servers on loopback; the classification is what Temporal and the circuit breaker see.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from retrofit.execution.error_mapping import classify
from retrofit.mcp.consuming.config import McpServerConfig
from retrofit.mcp.consuming.connector import McpConnector, McpToolOutput, connector_class
from retrofit.mcp.consuming.errors import ToolAnswerRefused
from retrofit.mcp.consuming.importer import import_server
from retrofit.sdk.context import running_call
from retrofit.sdk.errors import ActionInputError, AuthError, NotSentError, OutcomeUnknownError
from tests.mcp.consuming.servers import TOKEN, free_port, http_tool_server


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with http_tool_server(free_port()) as served:
        yield served


def _config(url: str, **fields: Any) -> McpServerConfig:
    values: dict[str, Any] = {
        "name": "calls",
        "url": url,
        "header_env": {"Authorization": "TEST_CALLS_AUTH"},
        "tools": ["lookup_order", "slow", "refuse", "off_schema"],
        "timeout_seconds": 1.5,
    }
    return McpServerConfig.model_validate({**values, **fields})


async def _connector(server: McpServerConfig) -> McpConnector:
    locked = await import_server(server)
    cls = connector_class(server, locked, {t.action: t.effect for t in locked.tools})
    return cls(cls.load_settings())


async def _call(connector: McpConnector, action: str, arguments: dict[str, Any]) -> McpToolOutput:
    method = getattr(connector, action)
    model = method.__annotations__["req"]
    with running_call(f"calls.{action}", "idem-1"):
        result: McpToolOutput = await method(model.model_validate(arguments))
        return result


async def test_a_refused_credential_is_not_retried(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CALLS_AUTH", f"Bearer {TOKEN}")
    connector = await _connector(_config(url))
    assert (await _call(connector, "lookup_order", {"order_id": "A-1"})).structured == {
        "order_id": "A-1",
        "status": "shipped",
        "verbose": False,
    }
    monkeypatch.setenv("TEST_CALLS_AUTH", "Bearer stolen-or-expired")
    with pytest.raises(AuthError, match=r"refused the configured credentials \(HTTP 401\)") as info:
        await _call(connector, "lookup_order", {"order_id": "A-1"})
    classified = classify(info.value)
    assert (classified.type, classified.retryable) == ("AuthError", False)
    assert "stolen" not in classified.message


async def test_a_tool_that_never_answers_is_outcome_unknown_and_retryable(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CALLS_AUTH", f"Bearer {TOKEN}")
    connector = await _connector(_config(url))
    began = time.monotonic()
    with pytest.raises(
        OutcomeUnknownError, match=r"tool 'slow' sent, answer lost: no answer within 1.5s"
    ) as info:
        await _call(connector, "slow", {})
    assert time.monotonic() - began < 5  # bounded by the server's timeout_seconds, not the tool
    assert classify(info.value).retryable and classify(info.value).may_have_landed


async def test_nothing_listening_is_not_sent_and_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CALLS_AUTH", f"Bearer {TOKEN}")
    port = free_port()
    with http_tool_server(port) as served:
        connector = await _connector(_config(served))
    with pytest.raises(NotSentError, match="could not be reached") as info:
        await _call(connector, "lookup_order", {"order_id": "A-1"})
    assert classify(info.value).retryable and not classify(info.value).may_have_landed


async def test_a_protocol_refusal_is_not_retried(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CALLS_AUTH", f"Bearer {TOKEN}")
    connector = await _connector(_config(url))
    with pytest.raises(
        ActionInputError, match=r"calls\.refuse refused the call: order ids are not accepted"
    ) as info:
        await _call(connector, "refuse", {})
    assert (classify(info.value).type, classify(info.value).retryable) == ("ActionInputError", False)


async def test_an_answer_outside_the_declared_output_schema_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CALLS_AUTH", f"Bearer {TOKEN}")
    connector = await _connector(_config(url))
    with pytest.raises(
        ToolAnswerRefused, match=r"calls\.off_schema answered outside its declared output schema"
    ) as info:
        await _call(connector, "off_schema", {})
    assert not classify(info.value).retryable
