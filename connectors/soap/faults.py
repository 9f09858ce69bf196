"""The one place where SOAP failures become Retrofit errors.

    failure                                              error
    ---------------------------------------------------  ------------------------------------
    connect timeout, connection refused, DNS             NotSentError (nothing reached the service)
    read/write timeout, connection reset/dropped         OutcomeUnknownError (may have landed)
    HTTP 408 / 429 (with or without a fault)             RetryableError (Retry-After honoured)
    SOAP fault the connector classifies                  what its `classify_fault` hook or its
                                                         `error_codes` table says
    SOAP fault with an authentication code               AuthError
      (INVALID_SESSION_ID, INVALID_LOGIN, InvalidCredentials, wsse:FailedAuthentication, ...;
      in the faultcode, a subcode or the fault detail)
    SOAP fault with a known transient vendor code        RetryableError
      (REQUEST_LIMIT_EXCEEDED, SERVER_UNAVAILABLE, UNABLE_TO_LOCK_ROW, CallRateExceeded, ...)
    soap:Server fault whose detail names vendor errors   ActionInputError (the service said which
                                                         error it was: Bing reports bad input as
                                                         soap:Server with an AdApiFaultDetail)
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

The fault detail is read for vendor errors (`VendorError`): every element holding children named
`Code`, `ErrorCode` or `exceptionCode` (any case, `_`/`-` ignored), at any depth — Bing's
`AdApiFaultDetail/Errors/AdApiError` and `ApiFaultDetail/BatchErrors/BatchError`, Salesforce's
`UnexpectedErrorFault`, NetSuite's `invalidCredentialsFault` — with the message beside the code.

Errors reported inside a normal answer (FedEx's `HighestSeverity=ERROR` with `Notifications`)
become Retrofit errors through `answer_error`, which the connector's `answer_error` hook calls.

Messages name the service, the operation and the fault code, and quote at most a short excerpt
of the fault string and of the vendor errors; envelopes (which may carry credentials) never appear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
_CODE_EXCERPT = 60
#: Vendor errors quoted in a message; the rest are counted.
_QUOTED_ERRORS = 3


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
        "INVALID_CREDENTIALS",  # also Bing's InvalidCredentials (105)
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
        "AuthenticationFailed",
        "AuthenticationTokenExpired",
        "InvalidAuthenticationToken",
        "UserIsNotAuthorized",
        "NotAuthorized",
        "Unauthorized",
        "AccessDenied",
        "PermissionDenied",
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
        "CallRateExceeded",  # Bing (117)
        "RateLimitExceeded",
        "TooManyRequests",
        "InternalError",  # Bing (0): the service's own failure, not our input
        "UNKNOWN_EXCEPTION",  # Salesforce's internal error (it asks for the ErrorId, not new input)
        "UNEXPECTED_ERROR",  # NetSuite's
    }
)
_INPUT_SEGMENTS = _normalized({"Client", "Sender", "userException"})
_SERVER_SEGMENTS = _normalized({"Server", "Receiver"})
_CONTRACT_SEGMENTS = _normalized({"VersionMismatch", "MustUnderstand", "DataEncodingUnknown"})

# Names of the elements (or dict keys) that hold a vendor error's code and its message, normalized.
_CODE_NAMES = _normalized({"code", "errorCode", "exceptionCode"})
# In order of preference: the first one present is the error's message.
_MESSAGE_NAMES: tuple[str, ...] = (
    "message",
    "longmessage",
    "localizedmessage",
    "exceptionmessage",
    "errormessage",
    "shortmessage",
    "description",
    "detail",
)

#: What a connector's `error_codes` table maps a vendor code to.
ErrorKind = type[RetrofitError]
#: A connector's fault classifier: an error, an error class (the base writes the message), or
#: None to leave the fault to the table and the defaults.
FaultClassifier = Callable[["VendorFault"], RetrofitError | ErrorKind | None]


@dataclass(frozen=True)
class VendorError:
    """One error a vendor reported, in a fault detail or inside a normal answer.

    `codes` are every code given for it, as sent: Bing gives a number and a name
    (`("105", "InvalidCredentials")`), Salesforce a name, FedEx a number.
    """

    codes: tuple[str, ...]
    message: str | None = None
    element: str = ""  # where it was found, e.g. "AdApiError" or "notifications"

    def has(self, *codes: str | int) -> bool:
        """Whether this error carries one of `codes` (compared without case, '_' or '-')."""
        wanted = {_normalize(str(code)) for code in codes}
        return any(_normalize(code) in wanted for code in self.codes)

    def summary(self) -> str:
        # Cut: a hostile or broken detail may put a megabyte into a code element.
        codes = " ".join(_excerpt(code, _CODE_EXCERPT) for code in self.codes[:4]) or "(no code)"
        return f"{codes}: {_excerpt(self.message)}" if self.message else codes


@dataclass(frozen=True)
class VendorFault:
    """What a connector's `classify_fault` hook sees of one SOAP fault."""

    service: str
    operation: str
    code: str  # the faultcode as sent, e.g. "s:Server" or "sf:INVALID_SESSION_ID"
    message: str  # the fault string, excerpted
    subcodes: tuple[str, ...] = ()
    errors: tuple[VendorError, ...] = ()
    detail: Any = None  # the detail element (lxml), for shapes the reader does not cover
    headers: Mapping[str, Any] = field(default_factory=dict)  # the answer's SOAP headers
    http_status: int | None = None
    retry_after: timedelta | None = None

    def has(self, *codes: str | int) -> bool:
        """Whether the faultcode, a subcode or a vendor error carries one of `codes`."""
        wanted = {_normalize(str(code)) for code in codes}
        return bool(self.codes() & wanted)

    def codes(self) -> frozenset[str]:
        """Every code of the fault, normalized (upper case, letters and digits only)."""
        found = _segments(self.code) | {_normalize(sub) for sub in self.subcodes}
        return frozenset(found | {_normalize(code) for error in self.errors for code in error.codes})


def soap_error(
    operation: str,
    failure: BaseException,
    *,
    service: str = "SOAP service",
    http_status: int | None = None,
    retry_after: str | None = None,
    classify: FaultClassifier | None = None,
    error_codes: Mapping[str, ErrorKind] | None = None,
    headers: Mapping[str, Any] | None = None,
) -> RetrofitError:
    """Classify one failed call. `http_status` and `retry_after` come from the HTTP answer, if any.

    For SOAP faults, `classify` (the connector's hook) decides first, then `error_codes` (vendor
    code -> error class, compared without case, `_` or `-`), then the table above. `headers`
    are the answer's SOAP headers, shown to `classify`.
    """
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
        fault = vendor_fault(
            failure,
            service=service,
            operation=operation,
            headers=headers,
            http_status=http_status,
            retry_after=delay,
        )
        return _fault_error(fault, classify=classify, error_codes=error_codes or {})
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


def vendor_fault(
    fault: zeep_errors.Fault,
    *,
    service: str,
    operation: str,
    headers: Mapping[str, Any] | None = None,
    http_status: int | None = None,
    retry_after: timedelta | None = None,
) -> VendorFault:
    """zeep's fault as a `VendorFault`, with the vendor errors of its detail read."""
    detail = fault.detail
    return VendorFault(
        service=service,
        operation=operation,
        code=str(fault.code or ""),
        message=_excerpt(str(fault.message or "(no fault string)")),
        subcodes=tuple(_subcodes(fault)),
        errors=tuple(detail_errors(detail)) if detail is not None else (),
        detail=detail,
        headers=dict(headers or {}),
        http_status=http_status,
        retry_after=retry_after,
    )


def detail_errors(detail: Any) -> list[VendorError]:
    """The vendor errors in a fault detail: each element with a code-named child is one error.

    `<AdApiError><Code>105</Code><ErrorCode>InvalidCredentials</ErrorCode><Message>…` is
    `VendorError(("105", "InvalidCredentials"), "…", "AdApiError")`; a `code` attribute counts too.
    """
    if not hasattr(detail, "iter"):
        return []
    found: list[VendorError] = []
    for element in detail.iter():
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        codes = [
            value.strip()
            for name, value in element.attrib.items()
            if _normalize(_local(name)) in _CODE_NAMES and value.strip()
        ]
        texts: dict[str, str] = {}
        for child in element:
            if not isinstance(child.tag, str) or len(child):
                continue  # only leaves hold a code or a message
            name = _normalize(_local(child.tag))
            text = (child.text or "").strip()
            if text and name in _CODE_NAMES:
                codes.append(text)
            elif text:
                texts.setdefault(name.lower(), text)
        if codes:
            message = next((texts[name] for name in _MESSAGE_NAMES if name in texts), None)
            found.append(VendorError(tuple(codes), message, _local(element.tag)))
    return found


def reported_errors(items: Any, *, element: str = "") -> list[VendorError]:
    """Vendor errors from plain data (a dict or a list of dicts, as `call_raw` returns them).

    FedEx's `notifications` (`code`, `message`), PayPal's and eBay's `errors` (`error_code`,
    `long_message`): keys are compared without case, `_` or `-`.
    """
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        return []
    found: list[VendorError] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        keys = {_normalize(str(key)): value for key, value in item.items()}
        codes = tuple(str(keys[name]).strip() for name in _CODE_NAMES if _present(keys.get(name)))
        message = next(
            (str(keys[name.upper()]) for name in _MESSAGE_NAMES if _present(keys.get(name.upper()))), None
        )
        if codes or message:
            found.append(VendorError(codes, message, element))
    return found


def answer_error(
    service: str,
    operation: str,
    errors: Sequence[VendorError],
    *,
    kind: ErrorKind,
    status: str,
    error_codes: Mapping[str, ErrorKind] | None = None,
) -> RetrofitError:
    """The error for a normal answer that reports a failure (`status`, e.g. "HighestSeverity ERROR").

    `kind` is what the status means (an input error, a transient failure); a vendor code in
    `error_codes`, or a known authentication or transient code, overrides it.
    """
    codes = frozenset(_normalize(code) for error in errors for code in error.codes)
    chosen = _by_table(codes, error_codes or {}) or _by_known_codes(codes) or kind
    text = f"{service} {operation} reported {status}{_errors_text(errors)}"
    return _build(chosen, text, details=_excerpt(_errors_text(errors).lstrip(": ")) or None)


def _fault_error(
    fault: VendorFault, *, classify: FaultClassifier | None, error_codes: Mapping[str, ErrorKind]
) -> RetrofitError:
    # Vendor errors that only repeat the fault string (the demo ERP's, NetSuite's) add nothing.
    news = [e for e in fault.errors if e.message is None or _excerpt(e.message) not in fault.message]
    text = (
        f"{fault.service} {fault.operation}: SOAP fault {fault.code or '(no code)'}: {fault.message}"
        f"{_errors_text(news)}"
    )
    details = fault.message + _errors_text(news)
    decided = classify(fault) if classify is not None else None
    if isinstance(decided, RetrofitError):
        return decided
    codes = fault.codes()
    chosen = decided or _by_table(codes, error_codes) or _default_kind(fault, codes)
    return _build(chosen, text, details=_excerpt(details), retry_after=fault.retry_after)


def _default_kind(fault: VendorFault, codes: frozenset[str]) -> ErrorKind:
    known = _by_known_codes(codes)
    if known is not None:
        return known
    segments = _segments(fault.code) | {_normalize(sub) for sub in fault.subcodes}
    if segments & _INPUT_SEGMENTS:  # before the server check: "Server.userException" is input
        return ActionInputError
    if any(error.codes for error in fault.errors):
        # The service named the error (Bing answers bad input as soap:Server with an
        # AdApiFaultDetail): not a transient outage, and retrying sends the same request.
        return ActionInputError
    if segments & _SERVER_SEGMENTS:
        return RetryableError
    if segments & _CONTRACT_SEGMENTS:
        return NonRetryableError
    # A vendor code we do not know (Salesforce's MALFORMED_QUERY, ...): the service understood
    # the request and refused it, which is what an input error is.
    return ActionInputError


def _by_known_codes(codes: frozenset[str]) -> ErrorKind | None:
    if codes & _AUTH_CODES:
        return AuthError
    if codes & _TRANSIENT_CODES:
        return RetryableError
    return None


def _by_table(codes: frozenset[str], table: Mapping[str, ErrorKind]) -> ErrorKind | None:
    for code, kind in table.items():
        if _normalize(code) in codes:
            return kind
    return None


def _build(
    kind: ErrorKind, text: str, *, details: str | None, retry_after: timedelta | None = None
) -> RetrofitError:
    # A fault or a reported error is the service's own answer: it says what happened.
    if issubclass(kind, RetryableError):
        return kind(text, retry_after=retry_after, details=details, delivery=Delivery.ANSWERED)
    return kind(text, details=details)


def _errors_text(errors: Sequence[VendorError]) -> str:
    if not errors:
        return ""
    quoted = "; ".join(error.summary() for error in errors[:_QUOTED_ERRORS])
    more = f" (and {len(errors) - _QUOTED_ERRORS} more)" if len(errors) > _QUOTED_ERRORS else ""
    return f": {quoted}{more}"


def _http_error(where: str, status: int, *, retry_after: timedelta | None) -> RetrofitError:
    if status >= 500:
        delivery = Delivery.UNKNOWN if status in (502, 504) else Delivery.ANSWERED
        return RetryableError(f"{where} answered HTTP {status}", retry_after=retry_after, delivery=delivery)
    if status in (401, 403):
        return AuthError(f"{where} refused our credentials (HTTP {status})")
    return NonRetryableError(f"{where} answered HTTP {status} without a SOAP envelope; check the endpoint")


def _segments(code: str) -> set[str]:
    """`soapenv:Server.userException` -> {"SERVER", "USEREXCEPTION"}; `{ns}Sender` -> {"SENDER"}."""
    local = code.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
    return {_normalize(part) for part in local.split(".") if part}


def _subcodes(fault: zeep_errors.Fault) -> list[str]:
    subcodes: Any = fault.subcodes or []
    return [str(getattr(sub, "localname", sub)) for sub in subcodes]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _present(value: Any) -> bool:
    return value is not None and not isinstance(value, Mapping | list) and str(value).strip() != ""


def _excerpt(text: str, limit: int = _EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
