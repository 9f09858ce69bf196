"""The codec server: Temporal's remote-codec HTTP protocol, so the Web UI and `temporal` CLI can
show decrypted payloads to ops without the keys ever leaving Retrofit's machines.

    POST /encode, POST /decode   body and answer: {"payloads": [<Payload as proto JSON>]}
    GET  /health                 200 when serving

With an identity service (`retrofit.identity.service`) the same app also serves its endpoints
(/identity/*, /login, /logout), and /encode signs the unsigned approval answers that a logged-in
browser sends (the Temporal UI's Signal and Update forms) before encoding them. Without codec keys
the payloads pass through unencrypted, so the UI can point at this one endpoint either way.

Point the UI at it (Settings -> Codec Server, or `temporal server start-dev --ui-codec-endpoint URL`).
The browser calls it directly, so the UI's origin must be allowed by CORS; with a token set, every
call needs `Authorization: Bearer <token>` (preflight requests excepted: browsers send no headers there).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from retrofit.codec.aes_gcm import PayloadDecryptionError
from retrofit.codec.keys import UnknownKeyError

if TYPE_CHECKING:
    from retrofit.identity.service import IdentityService


def codec_app(
    codec: PayloadCodec | None,
    *,
    cors_origins: Sequence[str] = (),
    token: str | None = None,
    identity: IdentityService | None = None,
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
        items = list(payloads.payloads)
        if identity is not None and not decode:
            # Before encryption: the stamp is added to the plain JSON the person typed.
            items = identity.stamp_payloads(request, items)
        try:
            if codec is not None:
                items = await codec.decode(items) if decode else await codec.encode(items)
        except (UnknownKeyError, PayloadDecryptionError) as exc:
            # The UI shows the body: say which key is missing, never anything about the key itself.
            return PlainTextResponse(str(exc), status_code=422)
        return JSONResponse(json_format.MessageToDict(Payloads(payloads=items)))

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes: list[BaseRoute] = [
        Route("/encode", encode, methods=["POST"]),
        Route("/decode", decode, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    if identity is not None:
        routes += identity.routes()
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST"],
                # The UI sends X-Namespace always and Authorization when "pass access token" is on.
                allow_headers=["Content-Type", "X-Namespace", "Authorization"],
                # Only the listed UI origins get credentialed responses (the session cookie):
                # Starlette answers with the exact origin, never "*", when credentials are allowed.
                allow_credentials=True,
            )
        ],
    )


def _authorized(request: Request, token: str) -> bool:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
