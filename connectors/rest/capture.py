"""Wire summaries of REST exchanges for the running action's audit record.

What is kept: method, path, the query with secret-named parameters redacted, status, duration,
the Idempotency-Key sent, a few harmless response headers, and redacted excerpts of both bodies.
What is never kept: request headers (Authorization, Cookie, API-key headers), response cookies,
and — for exchanges that carry credentials, such as a token fetch or a login — the bodies.
An allow-list, not a block-list: a new credential header cannot slip into the trail by accident.
The connector's own secret values (its `SecretStr` settings) are masked in the bodies wherever
they appear, also where no field name says secret: Odoo's `execute_kw` sends the password as a
bare list item, `[db, uid, password, model, method, ...]`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote_plus

import httpx

from connectors.rest.body_excerpt import excerpt_content
from retrofit.redaction import REDACTED, is_secret_key
from retrofit.sdk import capture_exchange, current_call

_KEPT_RESPONSE_HEADERS = ("content-type", "retry-after", "idempotent-replayed")


def in_action() -> bool:
    """Whether an action is running: outside one there is no audit record to attach to."""
    try:
        current_call()
    except RuntimeError:
        return False
    return True


def record_exchange(
    request: httpx.Request,
    *,
    started: float,
    finished: float,
    response: httpx.Response | None = None,
    error: BaseException | None = None,
    with_bodies: bool = True,
    operation: str | None = None,
    secrets: Sequence[str] = (),
) -> None:
    """Attach one exchange to the running action's audit record (a no-op outside an action).

    `started`/`finished` are `time.perf_counter()` readings. Pass `with_bodies=False` for
    exchanges whose bodies are credentials by nature, and `operation` when the path does not say
    what the exchange did (a JSON-RPC method: every call is `POST /rpc`). `secrets` are values
    masked in both bodies wherever they appear.
    """
    if not in_action():
        return  # skip the work of summarising: nobody would read it
    exchange: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "status": response.status_code if response is not None else None,
        "duration_ms": round((finished - started) * 1000, 1),
    }
    if operation is not None:
        exchange["operation"] = operation
    if request.url.query:
        params = request.url.params.multi_items()
        exchange["query"] = {k: (REDACTED if is_secret_key(k) else v) for k, v in params}
    if "idempotency-key" in request.headers:  # `in` first: httpx's `get` raises and catches a miss
        exchange["idempotency_key"] = request.headers["idempotency-key"]
    if error is not None:
        exchange["error"] = type(error).__name__
    if response is not None and response.history:
        # Exchanges the auth flow made before this answer, e.g. a 401 and the token fetch it caused.
        exchange["preceded_by"] = [
            f"{r.request.method} {r.request.url.path} {r.status_code}" for r in response.history
        ]
    # One pass over the response headers instead of a scan per lookup (httpx keeps them as a list).
    headers = dict(response.headers.items()) if response is not None else {}
    if headers:
        kept = {h: headers[h] for h in _KEPT_RESPONSE_HEADERS if h in headers}
        if kept:
            exchange["response_headers"] = kept
    if with_bodies:
        try:
            content = request.content
        except httpx.RequestNotRead:  # a streamed upload: there is no body in memory to quote
            exchange["request_body"] = "(streamed body)"
        else:
            if content:
                content_type = request.headers.get("content-type", "")
                exchange["request_body"] = excerpt_content(mask_secrets(content, secrets), content_type)
        if response is not None and response.is_stream_consumed:
            content_type = headers.get("content-type", "")
            masked = mask_secrets(response.content, secrets)
            exchange["response_body"] = excerpt_content(masked, content_type) or "(empty body)"
    capture_exchange(exchange)


def mask_secrets(content: bytes, secrets: Sequence[str]) -> bytes:
    """`content` with every secret replaced, as written raw, in JSON and in a form body.

    Before the excerpt is cut, so a secret at the cut cannot survive in part.
    """
    if not secrets or not content:
        return content
    forms: set[bytes] = set()
    for secret in secrets:
        if secret:
            forms |= {secret.encode(), json.dumps(secret)[1:-1].encode(), quote_plus(secret).encode()}
    for form in sorted(forms, key=len, reverse=True):  # longest first: one may contain another
        content = content.replace(form, REDACTED.encode())
    return content
