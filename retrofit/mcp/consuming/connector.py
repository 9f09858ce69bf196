"""One Retrofit connector per external MCP server, its actions built from the lock.

Each locked tool becomes an `@action` method `<server>.<action>` whose input model is generated
from the pinned schema, so the gate (validation, policy, approval, audit, breaker, retries)
treats it like any hand-written action. Every call opens its own session, checks that the
live tool still has the locked schema (refused, non-retryable, when it drifted), then calls it:

- the server unreachable, or the call timed out before it was sent → `NotSentError` (retryable)
- the answer was lost after the call was sent → `OutcomeUnknownError` (retryable, may have landed)
- `isError: true` → `ToolReportedError` (non-retryable, with the tool's message)
- a JSON-RPC "invalid params / request, no such method" error → `ActionInputError` (non-retryable)
- an answer larger than `max_result_chars`, or not a valid MCP result → `ToolAnswerRefused`
  (non-retryable: asking again gets the same answer)
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, ClassVar, cast

import anyio
from mcp import MCPError
from mcp_types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    CallToolResult,
    RequestParamsMeta,
    TextContent,
)
from pydantic import BaseModel, Field, ValidationError

from retrofit.mcp.consuming.config import McpServerConfig
from retrofit.mcp.consuming.drift import ToolState, tool_state
from retrofit.mcp.consuming.errors import SchemaDriftError, ToolAnswerRefused, ToolReportedError
from retrofit.mcp.consuming.lock import LockedServer, LockedTool
from retrofit.mcp.consuming.schema_models import input_model
from retrofit.mcp.consuming.sessions import AuthStatus, connected, list_tools
from retrofit.sdk.action import action
from retrofit.sdk.connector import Connector
from retrofit.sdk.context import capture_exchange, current_call
from retrofit.sdk.effect import Effect
from retrofit.sdk.errors import (
    ActionInputError,
    AuthError,
    Delivery,
    NotSentError,
    OutcomeUnknownError,
    RetrofitError,
)
from retrofit.sdk.spec import RetrySettings

# The idempotency key travels in the request's `_meta`; servers that understand it can dedupe.
IDEMPOTENCY_META_KEY = "io.retrofit/idempotencyKey"
# Session set-up and the drift check's listing come on top of the tool's own time.
_SESSION_MARGIN = timedelta(seconds=10)
_MAX_OTHER_BLOCKS = 20
# JSON-RPC errors that say the server refused this call as made: asking again gets the same.
_REFUSED_CALL = frozenset({INVALID_PARAMS, METHOD_NOT_FOUND, INVALID_REQUEST})


class McpToolOutput(BaseModel):
    """What an MCP tool answered: its text blocks joined, its structured content if any."""

    text: str = Field(default="", description="the tool's text content, blocks joined by newlines")
    structured: dict[str, Any] | None = Field(default=None, description="the tool's structured content")
    other_content: list[str] = Field(
        default_factory=list, description="non-text blocks (images, audio, resources), described not passed"
    )


class McpConnector(Connector):
    """Base of the generated per-server connectors."""

    server: ClassVar[McpServerConfig]

    async def call_tool(self, tool: LockedTool, request: BaseModel) -> McpToolOutput:
        server = self.server
        arguments = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        where = f"MCP server {server.name!r}"
        sent = False
        auth = AuthStatus()
        try:
            with anyio.fail_after(server.timeout_seconds):
                async with connected(server, auth) as client:
                    _check_drift(server, tool, await list_tools(client))
                    sent = True
                    result = await client.call_tool(
                        tool.tool,
                        arguments,
                        meta=cast(RequestParamsMeta, {IDEMPOTENCY_META_KEY: current_call().idempotency_key}),
                    )
        except BaseException as exc:
            ours = _retrofit_error(exc)
            if ours is not None:
                raise ours from exc
            if not isinstance(exc, Exception):
                raise  # cancellation and the like pass through untouched
            if auth.refused is not None:
                raise AuthError(
                    f"{where} refused the configured credentials (HTTP {auth.refused})",
                    delivery=Delivery.UNKNOWN if sent else Delivery.NOT_SENT,
                ) from exc
            if sent and _off_output_schema(exc):
                raise ToolAnswerRefused(
                    f"MCP tool {server.name}.{tool.action} answered outside its declared output "
                    "schema; the answer was dropped"
                ) from exc
            if sent and _find(exc, ValidationError) is not None:
                raise ToolAnswerRefused(
                    f"MCP tool {server.name}.{tool.action} answered something that is not a valid "
                    "MCP tool result; the answer was dropped"
                ) from exc
            refused = _find(exc, MCPError)
            if sent and isinstance(refused, MCPError) and refused.code in _REFUSED_CALL:
                raise ActionInputError(
                    f"MCP tool {server.name}.{tool.action} refused the call: {refused.message[:300]}"
                ) from exc
            reason = _reason(exc)
            if not sent:
                raise NotSentError(f"{where} could not be reached: {reason}") from exc
            if isinstance(exc, TimeoutError):
                reason = f"no answer within {server.timeout_seconds:g}s"
            raise OutcomeUnknownError(f"{where}: tool {tool.tool!r} sent, answer lost: {reason}") from exc
        return _output(server, tool, result)


def _check_drift(server: McpServerConfig, tool: LockedTool, live: list[Any]) -> None:
    state, live_hash = tool_state(tool, live)
    name = f"{server.name}.{tool.action}"
    if state is ToolState.GONE:
        raise SchemaDriftError(
            f"MCP tool {name} refused: the server no longer lists {tool.tool!r}; "
            "review it and run `retrofit mcp import` again"
        )
    if state is ToolState.CHANGED and live_hash is not None:
        raise SchemaDriftError(
            f"MCP tool {name} refused: its input schema changed since it was locked "
            f"(locked {tool.schema_sha256[:12]}, live {live_hash[:12]}); "
            "review it and run `retrofit mcp import` again",
            details=f"locked={tool.schema_sha256} live={live_hash}",
        )


def _output(server: McpServerConfig, tool: LockedTool, result: CallToolResult) -> McpToolOutput:
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    others = [_describe_block(block) for block in result.content if not isinstance(block, TextContent)]
    if len(others) > _MAX_OTHER_BLOCKS:
        others = [*others[:_MAX_OTHER_BLOCKS], f"… and {len(others) - _MAX_OTHER_BLOCKS} more blocks"]
    structured = result.structured_content
    try:
        size = sum(len(t) for t in texts) + (len(json.dumps(structured)) if structured is not None else 0)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ToolAnswerRefused(
            f"MCP tool {server.name}.{tool.action} answered structured content that cannot be "
            "serialised; the answer was dropped"
        ) from exc
    capture_exchange(
        {"mcp_server": server.name, "tool": tool.tool, "is_error": result.is_error, "answer_chars": size}
    )
    name = f"{server.name}.{tool.action}"
    if size > server.max_result_chars:
        raise ToolAnswerRefused(
            f"MCP tool {name} answered {size:,} characters, more than this server's "
            f"max_result_chars ({server.max_result_chars:,}); the answer was dropped"
        )
    text = "\n".join(texts)
    if result.is_error:
        raise ToolReportedError(f"MCP tool {name} reported an error: {text or '(no message)'}")
    if structured is not None and not isinstance(structured, dict):
        structured = {"value": structured}  # 2026-07-28 allows any JSON value; keep the model an object
    return McpToolOutput(text=text, structured=structured, other_content=others)


def _describe_block(block: Any) -> str:
    # Only the kind, type and size: the server chose these strings, so they are cut short.
    kind = str(getattr(block, "type", type(block).__name__))[:40]
    mime = getattr(block, "mime_type", None)
    mime = str(mime)[:80] if mime else None
    data = getattr(block, "data", None)
    size = f", {len(data):,} base64 characters" if isinstance(data, str) else ""
    return f"{kind}{f' ({mime})' if mime else ''}{size}"


def _retrofit_error(exc: BaseException) -> RetrofitError | None:
    """Our own typed error, also when anyio wrapped it in an exception group."""
    return cast(RetrofitError | None, _find(exc, RetrofitError))


def _off_output_schema(exc: BaseException) -> bool:
    # The SDK checks structured content against the tool's declared output schema and reports a
    # mismatch as a RuntimeError (ClientSession.validate_tool_result): the same answer again.
    found = _find(exc, RuntimeError)
    text = str(found) if found is not None else ""
    return "output schema" in text or "structured content" in text


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find(inner, kind)
            if found is not None:
                return found
    return None


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def _action_method(tool: LockedTool, model: type[BaseModel], effect: Effect, server: McpServerConfig) -> Any:
    async def run(self: McpConnector, req: BaseModel) -> McpToolOutput:
        return await self.call_tool(tool, req)

    # The framework reads the models from the annotations, as on a hand-written action.
    run.__annotations__ = {"req": model, "return": McpToolOutput}
    run.__name__ = run.__qualname__ = tool.action
    run.__doc__ = tool.description
    return action(
        effect,
        timeout=timedelta(seconds=server.timeout_seconds) + _SESSION_MARGIN,
        retry=RetrySettings(maximum_attempts=server.retries),
    )(run)


def connector_class(
    server: McpServerConfig, locked: LockedServer, effects: dict[str, Effect]
) -> type[McpConnector]:
    """The connector class for one server; `effects` maps each locked action name to its effect."""
    namespace: dict[str, Any] = {
        "name": server.name,
        "server": server,
        "__doc__": f"External MCP server {server.name!r} ({'stdio' if server.command else 'HTTP'})"
        + (f": {locked.server_info}" if locked.server_info else ""),
        "__module__": __name__,
    }
    for tool in locked.tools:
        model = input_model(f"{server.name}__{tool.action}", tool.tool, tool.input_schema)
        namespace[tool.action] = _action_method(tool, model, effects[tool.action], server)
    return type(f"McpServer_{server.name}", (McpConnector,), namespace)
