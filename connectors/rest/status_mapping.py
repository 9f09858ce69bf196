"""The one place where an HTTP failure becomes a Retrofit error.

    failure                                  error                why
    ---------------------------------------  -------------------  ------------------------------------
    connect / pool timeout, refused, DNS      NotSentError         nothing reached the system
    read / write timeout, reset, dropped      OutcomeUnknownError  the request left, the answer was
                                                                   lost: a write may have landed
    unsupported scheme, malformed request     NonRetryableError    our configuration is wrong
    408, 429, 5xx                            RetryableError       the server asks us to come back;
                                                                  `Retry-After` becomes the next delay
                                                                  (502 and 504 are a gateway's answer,
                                                                  not the system's: outcome unknown)
    401, 403                                 AuthError          credentials or permissions refused
    other 4xx                                ActionInputError   the system refused these arguments
    1xx, 3xx (redirects are not followed)    NonRetryableError  base URL or proxy misconfigured

Messages name the system, method, path (never the query string, which may carry a key) and status,
and quote a short redacted excerpt of the response body, also kept as the error's `details`.
"""

from __future__ import annotations

import httpx

from connectors.rest.body_excerpt import excerpt_response, redact_text, truncate
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    NotSentError,
    OutcomeUnknownError,
    RetrofitError,
    RetryableError,
)
from retrofit.sdk.retry_after import parse_retry_after


def map_failure(
    system: str,
    method: str,
    path: str,
    failure: httpx.Response | httpx.HTTPError,
    *,
    operation: str | None = None,
) -> RetrofitError:
    """The Retrofit error for a failed exchange: an error response or an httpx exception.

    `operation` names what the exchange did when the path does not (a JSON-RPC method).
    """
    where = f"{system} {operation} ({method} {path})" if operation else f"{system} {method} {path}"
    if isinstance(failure, httpx.Response):
        return _for_response(where, failure)
    return _for_exception(where, failure)


def _for_exception(where: str, exc: httpx.HTTPError) -> RetrofitError:
    kind = type(exc).__name__
    text = truncate(redact_text(str(exc)), 200)
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return NotSentError(f"{where} timed out ({kind}) before sending")
    if isinstance(exc, httpx.TimeoutException):
        return OutcomeUnknownError(f"{where} timed out ({kind}) after sending; the request may have landed")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        # We built a request the transport cannot send: a retry builds the same one.
        return NonRetryableError(f"{where} could not be sent ({kind}: {text})", delivery=Delivery.NOT_SENT)
    if isinstance(exc, httpx.ConnectError):
        # Refused, unresolvable, TLS handshake: the connection never carried the request.
        return NotSentError(f"{where} could not connect ({kind}: {text})")
    if isinstance(exc, httpx.TransportError):
        # Reset, closed mid-answer, protocol error: whatever was sent may have been applied.
        return OutcomeUnknownError(f"{where} failed in transit ({kind}: {text}); the request may have landed")
    return NonRetryableError(f"{where} failed ({kind}: {text})")


def _for_response(where: str, response: httpx.Response) -> RetrofitError:
    status = response.status_code
    summary = excerpt_response(response)
    if status in (408, 429) or status >= 500:
        return RetryableError(
            f"{where} answered {status}: {summary}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            details=summary,
            delivery=Delivery.UNKNOWN if status in (502, 504) else Delivery.ANSWERED,
        )
    if status in (401, 403):
        return AuthError(f"{where} refused our credentials ({status}): {summary}", details=summary)
    if 400 <= status < 500:
        return ActionInputError(f"{where} refused the request ({status}): {summary}", details=summary)
    return NonRetryableError(f"{where} answered an unexpected {status}: {summary}", details=summary)
