"""The codec server: Temporal's remote-codec HTTP protocol, so the Web UI and `temporal` CLI can
show decrypted payloads to ops without the keys ever leaving Retrofit's machines.

    POST /encode, POST /decode   body and answer: {"payloads": [<Payload as proto JSON>]}
    GET  /health                 200 when serving

Point the UI at it (Settings -> Codec Server, or `temporal server start-dev --ui-codec-endpoint URL`).
The browser calls it directly, so the UI's origin must be allowed by CORS; with a token set, every
call needs `Authorization: Bearer <token>` (preflight requests excepted: browsers send no headers there).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from retrofit.codec.aes_gcm import PayloadDecryptionError
from retrofit.codec.keys import UnknownKeyError


def codec_app(
    codec: PayloadCodec, *, cors_origins: Sequence[str] = (), token: str | None = None
) -> Starlette:
    async def encode(request: Request) -> Response:
        return await _convert(request, decode=False)

    async def decode(request: Request) -> Response:
        return await _convert(request, decode=True)

    async def _convert(request: Request, *, decode: bool) -> Response:
        if token is not None and not _authorized(request, token):
            return PlainTextResponse("missing or wrong bearer token", status_code=401)
        try:
            payloads = json_format.Parse(await request.body(), Payloads(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            return PlainTextResponse(f"body is not {{'payloads': [...]}}: {exc}", status_code=400)
        try:
            converted = (
                await codec.decode(payloads.payloads) if decode else await codec.encode(payloads.payloads)
            )
        except (UnknownKeyError, PayloadDecryptionError) as exc:
            # The UI shows the body: say which key is missing, never anything about the key itself.
            return PlainTextResponse(str(exc), status_code=422)
        return JSONResponse(json_format.MessageToDict(Payloads(payloads=converted)))

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/encode", encode, methods=["POST"]),
            Route("/decode", decode, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["POST"],
                # The UI sends X-Namespace always and Authorization when "pass access token" is on.
                allow_headers=["Content-Type", "X-Namespace", "Authorization"],
                allow_credentials=True,
            )
        ],
    )


def _authorized(request: Request, token: str) -> bool:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
