"""The one place where SOAP failures become Retrofit errors.

    failure                                              error
    ---------------------------------------------------  ------------------------------------
    connect timeout, connection refused, DNS             NotSentError (nothing reached the service)
    read/write timeout, connection reset/dropped         OutcomeUnknownError (may have landed)
    HTTP 408 / 429 (with or without a fault)             RetryableError (Retry-After honoured)
    SOAP fault with an authentication code               AuthError
      (INVALID_SESSION_ID, INVALID_LOGIN, wsse:FailedAuthentication, ...; NetSuite and
      Salesforce put theirs in the fault detail, which is read too)
    SOAP fault with a known transient vendor code        RetryableError
      (REQUEST_LIMIT_EXCEEDED, SERVER_UNAVAILABLE, UNABLE_TO_LOCK_ROW, ...)
    soap:Server.userException (Axis' application errors) ActionInputError
    soap:Client / soap12:Sender                          ActionInputError
    soap:Server / soap12:Receiver                        RetryableError (Retry-After honoured)
    VersionMismatch / MustUnderstand                     NonRetryableError (contract problem)
    any other fault code (vendor-specific refusals)      ActionInputError
    HTTP 5xx without a fault (proxy page, empty body)    RetryableError (Retry-After honoured;
                                                         502/504 are a gateway's: outcome unknown)
    HTTP 401 / 403 without a fault                       AuthError
    other HTTP status without a fault                    NonRetryableError (wrong endpoint?)
    request does not fit the WSDL (zeep validation)      ActionInputError
    answer zeep cannot read, model mismatch              NonRetryableError

Messages name the service, the operation and the fault code, and quote at most a short excerpt
of the fault string; envelopes (which may carry credentials) never appear.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from zeep import exceptions as zeep_errors

from connectors.soap.loader import WsdlFetchError
from connectors.soap.signatures import ArgumentMismatch
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

_EXCERPT = 200


def _normalized(codes: set[str]) -> frozenset[str]:
    return frozenset(_normalize(code) for code in codes)


def _normalize(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", code.upper())


# Compared without case, '_' or '-': "INVALID_SESSION_ID" also matches "InvalidSessionId".
_AUTH_CODES = _normalized(
    {
        "INVALID_SESSION_ID",
        "INVALID_LOGIN",
        "INVALID_LOGIN_CREDENTIALS",
        "INVALID_CREDENTIALS",
        "LOGIN_MUST_USE_SECURITY_TOKEN",
        "INVALID_OPERATION_WITH_EXPIRED_PASSWORD",
        "PASSWORD_LOCKOUT",
        "INSUFFICIENT_ACCESS",
        "INSUFFICIENT_PERMISSION",
        "FailedAuthentication",  # WS-Security 1.1, section 12
        "InvalidSecurity",
        "InvalidSecurityToken",
        "SecurityTokenUnavailable",
        "FailedCheck",
        "Authentication",  # e.g. "Client.Authentication"
        "NotAuthorized",
        "Unauthorized",
    }
)
_TRANSIENT_CODES = _normalized(
    {
        "REQUEST_LIMIT_EXCEEDED",
        "SERVER_UNAVAILABLE",
        "UNABLE_TO_LOCK_ROW",
        "CONCURRENT_REQUEST_LIMIT_EXCEEDED",
        "WS_CONCUR_SESSION_DISALLWD",
        "WS_REQUEST_BLOCKED",
        "ServiceUnavailable",
        "Busy",
    }
)
_INPUT_SEGMENTS = _normalized({"Client", "Sender", "userException"})
_SERVER_SEGMENTS = _normalized({"Server", "Receiver"})
_CONTRACT_SEGMENTS = _normalized({"VersionMismatch", "MustUnderstand", "DataEncodingUnknown"})


def soap_error(
    operation: str,
    failure: BaseException,
    *,
    service: str = "SOAP service",
    http_status: int | None = None,
    retry_after: str | None = None,
) -> RetrofitError:
    """Classify one failed call. `http_status` and `retry_after` come from the HTTP answer, if any."""
    where = f"{service} {operation}"
    delay = parse_retry_after(retry_after)
    kind = type(failure).__name__
    if isinstance(failure, httpx.ConnectTimeout | httpx.PoolTimeout):
        return NotSentError(f"{where} timed out ({kind}) before sending")
    if isinstance(failure, httpx.TimeoutException):
        return OutcomeUnknownError(f"{where} timed out ({kind}) after sending; the call may have landed")
    if isinstance(failure, httpx.ConnectError):
        return NotSentError(f"{where} could not connect ({kind}: {failure})")
    if isinstance(failure, httpx.TransportError):
        return OutcomeUnknownError(f"{where} failed in transit ({kind}: {failure}); the call may have landed")
    if isinstance(failure, WsdlFetchError):
        # Before any call: the operation was never sent.
        error = RetryableError if failure.transient else NonRetryableError
        return error(f"{where}: the WSDL is unavailable ({failure})", delivery=Delivery.NOT_SENT)
    if http_status in (408, 429):
        return RetryableError(
            f"{where} answered HTTP {http_status}", retry_after=delay, delivery=Delivery.ANSWERED
        )
    if isinstance(failure, zeep_errors.Fault):
        if not failure.code and http_status not in (None, 200):
            # zeep's stand-in for an error answer that parsed as XML but held no SOAP Fault
            # (a proxy's XHTML error page): the HTTP status is all we know.
            return _http_error(where, http_status, retry_after=delay)
        return _fault_error(where, failure, retry_after=delay)
    if isinstance(failure, zeep_errors.TransportError):
        return _http_error(where, failure.status_code or http_status or 0, retry_after=delay)
    if isinstance(failure, zeep_errors.ValidationError):
        return ActionInputError(f"{where}: the arguments do not fit the WSDL ({_excerpt(str(failure))})")
    if isinstance(failure, ArgumentMismatch):
        return NonRetryableError(f"{where}: the action's model does not fit the WSDL ({failure})")
    # XMLSyntaxError, UnexpectedElementError, ...: the answer does not match the contract.
    return NonRetryableError(
        f"{where}: unreadable answer ({type(failure).__name__}: {_excerpt(str(failure))})"
    )


def _fault_error(where: str, fault: zeep_errors.Fault, *, retry_after: timedelta | None) -> RetrofitError:
    code = str(fault.code or "")
    message = _excerpt(str(fault.message or "(no fault string)"))
    text = f"{where}: SOAP fault {code or '(no code)'}: {message}"
    codes = _fault_codes(fault)
    if codes & _AUTH_CODES:
        return AuthError(text, details=message)
    # A fault is the service's own answer: it says what happened (the call was refused).
    if codes & _TRANSIENT_CODES:
        return RetryableError(text, retry_after=retry_after, details=message, delivery=Delivery.ANSWERED)
    segments = _segments(code) | {_normalize(sub) for sub in _subcodes(fault)}
    if segments & _INPUT_SEGMENTS:  # before the server check: "Server.userException" is input
        return ActionInputError(text, details=message)
    if segments & _SERVER_SEGMENTS:
        return RetryableError(text, retry_after=retry_after, details=message, delivery=Delivery.ANSWERED)
    if segments & _CONTRACT_SEGMENTS:
        return NonRetryableError(text, details=message)
    # A vendor code we do not know (Salesforce's MALFORMED_QUERY, ...): the service understood
    # the request and refused it, which is what an input error is.
    return ActionInputError(text, details=message)


def _http_error(where: str, status: int, *, retry_after: timedelta | None) -> RetrofitError:
    if status >= 500:
        delivery = Delivery.UNKNOWN if status in (502, 504) else Delivery.ANSWERED
        return RetryableError(f"{where} answered HTTP {status}", retry_after=retry_after, delivery=delivery)
    if status in (401, 403):
        return AuthError(f"{where} refused our credentials (HTTP {status})")
    return NonRetryableError(f"{where} answered HTTP {status} without a SOAP envelope; check the endpoint")


def _fault_codes(fault: zeep_errors.Fault) -> set[str]:
    """Every code a fault carries: faultcode segments, SOAP 1.2 subcodes, detail `code` elements."""
    codes = _segments(str(fault.code or ""))
    codes |= {_normalize(sub) for sub in _subcodes(fault)}
    detail = fault.detail
    if detail is not None and hasattr(detail, "iter"):
        for element in detail.iter():
            tag = element.tag if isinstance(element.tag, str) else ""
            if tag.rsplit("}", 1)[-1] in ("code", "exceptionCode", "errorCode") and element.text:
                codes.add(_normalize(element.text))
    return codes


def _segments(code: str) -> set[str]:
    """`soapenv:Server.userException` -> {"SERVER", "USEREXCEPTION"}; `{ns}Sender` -> {"SENDER"}."""
    local = code.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
    return {_normalize(part) for part in local.split(".") if part}


def _subcodes(fault: zeep_errors.Fault) -> list[str]:
    subcodes: Any = fault.subcodes or []
    return [str(getattr(sub, "localname", sub)) for sub in subcodes]


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"
