"""A real MCP server for the consuming tests, written with the SDK's low-level `Server`.

Run as `python tool_server.py stdio` or `python tool_server.py http PORT`. Standalone (imports
only the SDK), so the tests start it as a subprocess exactly as an operator's config would.

Tools:
- `lookup_order` (readOnlyHint): structured content and text.
- `cancel_order` (no annotations → WRITE): appends one line to $TOOL_SERVER_LOG, so a test
  can count how often it really ran.
- `explode` (readOnlyHint): answers `isError: true`.
- `flood` (readOnlyHint): answers 3 MB of text.
- `binary` (readOnlyHint): answers only an image block of junk.
- `slow` (readOnlyHint): sleeps 30 s.
- `off_schema` (readOnlyHint): structured content that breaks its declared output schema.
- `refuse` (readOnlyHint): answers a JSON-RPC "invalid params" error.
- `garbage` (readOnlyHint): a result that is not a valid MCP tool result.

When the file $TOOL_SERVER_FLAVOR_FILE says `v2`, `lookup_order` gains a required `warehouse`
property (schema drift), read again at every listing.
HTTP: when TOOL_SERVER_TOKEN is set, every request needs `Authorization: Bearer <it>`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
from mcp import MCPError
from mcp.server.lowlevel import Server
from mcp_types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ImageContent,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)

READ = ToolAnnotations(read_only_hint=True)


def _tools() -> list[Tool]:
    order: dict[str, Any] = {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "minLength": 3, "description": "the order number"},
            "verbose": {"type": "boolean", "default": False},
        },
        "required": ["order_id"],
    }
    if _flavor() == "v2":
        order["properties"]["warehouse"] = {"type": "string"}
        order["required"] = ["order_id", "warehouse"]
    cancel = {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "reason": {"type": "string", "enum": ["customer", "fraud", "stock"]},
            "refund_cents": {"type": "integer", "minimum": 0},
        },
        "required": ["order_id", "reason"],
    }
    empty: dict[str, Any] = {"type": "object", "properties": {}}
    return [
        Tool(name="lookup_order", description="Look up one order.", input_schema=order, annotations=READ),
        Tool(name="cancel_order", description="Cancel an order.", input_schema=cancel),
        Tool(name="explode", description="Always fails.", input_schema=empty, annotations=READ),
        Tool(name="flood", description="Answers far too much.", input_schema=empty, annotations=READ),
        Tool(name="binary", description="Answers junk bytes.", input_schema=empty, annotations=READ),
        Tool(name="slow", description="Never answers in time.", input_schema=empty, annotations=READ),
        Tool(
            name="off_schema",
            description="Answers outside its own output schema.",
            input_schema=empty,
            output_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
            annotations=READ,
        ),
        Tool(name="refuse", description="Refuses every call.", input_schema=empty, annotations=READ),
        Tool(name="garbage", description="Answers a malformed result.", input_schema=empty, annotations=READ),
    ]


def _flavor() -> str:
    path = os.environ.get("TOOL_SERVER_FLAVOR_FILE")
    if path is None or not os.path.exists(path):
        return "v1"
    with open(path) as handle:
        return handle.read().strip()


def _record(line: str) -> None:
    with open(os.environ["TOOL_SERVER_LOG"], "a") as log:
        log.write(line + "\n")


async def list_tools(ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
    return ListToolsResult(tools=_tools())


async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
    args = params.arguments or {}
    if params.name == "lookup_order":
        found = {"order_id": args["order_id"], "status": "shipped", "verbose": args.get("verbose")}
        return CallToolResult(
            content=[TextContent(text=f"order {args['order_id']} shipped")], structured_content=found
        )
    if params.name == "cancel_order":
        key = (params.meta or {}).get("io.retrofit/idempotencyKey")
        _record(f"cancel {args['order_id']} {args['reason']} key={key}")
        return CallToolResult(content=[TextContent(text=f"cancelled {args['order_id']}")])
    if params.name == "explode":
        return CallToolResult(content=[TextContent(text="warehouse database is on fire")], is_error=True)
    if params.name == "flood":
        return CallToolResult(content=[TextContent(text="x" * 3_000_000)])
    if params.name == "binary":
        return CallToolResult(content=[ImageContent(data="!!not-base64\x00\x01", mime_type="image/png")])
    if params.name == "off_schema":
        return CallToolResult(content=[TextContent(text="n is x")], structured_content={"n": "x"})
    if params.name == "refuse":
        raise MCPError(INVALID_PARAMS, "order ids are not accepted today")
    if params.name == "garbage":
        # Built without validation, so the wire carries what no MCP result may look like.
        junk: Any = "not a list of blocks"
        return CallToolResult.model_construct(content=junk, is_error=junk)
    if params.name == "slow":
        await anyio.sleep(30)
        return CallToolResult(content=[TextContent(text="late")])
    return CallToolResult(content=[TextContent(text=f"unknown tool {params.name}")], is_error=True)


def server() -> Server[Any]:
    return Server("retrofit-test-tools", version="1.0", on_list_tools=list_tools, on_call_tool=call_tool)


def _run_http(port: int) -> None:
    import uvicorn
    from starlette.types import ASGIApp, Receive, Scope, Send

    app: ASGIApp = server().streamable_http_app(host="127.0.0.1")
    token = os.environ.get("TOOL_SERVER_TOKEN")

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and token is not None:
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"bad token"})
                return
        await app(scope, receive, send)

    uvicorn.run(guarded, host="127.0.0.1", port=port, log_level="error", lifespan="on")


def main() -> None:
    if sys.argv[1] == "stdio":
        from mcp.server.stdio import stdio_server

        async def go() -> None:
            s = server()
            async with stdio_server() as (read, write):
                await s.run(read, write, s.create_initialization_options())

        anyio.run(go)
    else:
        _run_http(int(sys.argv[2]))


if __name__ == "__main__":
    main()
