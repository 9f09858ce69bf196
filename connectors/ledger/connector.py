"""The demo ledger's connector: its REST API (`legacy/ledger`) as four typed actions."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import httpx
from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, ValidationError

from connectors.ledger.models import (
    AddNote,
    Customer,
    DeleteCustomer,
    Deleted,
    GetCustomer,
    Note,
    SetCreditLimit,
)
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Connector,
    ConnectorSettings,
    Effect,
    NonRetryableError,
    RetrofitError,
    RetryableError,
    action,
    current_call,
)

_Model = TypeVar("_Model", bound=BaseModel)

_SUMMARY_LIMIT = 200


class LedgerSettings(ConnectorSettings):
    """Where the ledger is and how to sign in: `RETROFIT_LEDGER_BASE_URL`, `..._API_KEY`, ..."""

    base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8701")
    api_key: SecretStr = SecretStr("demo-ledger-key")
    timeout_seconds: float = Field(default=10.0, gt=0)


class LedgerConnector(Connector):
    """Demo ledger (REST): customers of the demo ERP with their credit limits, balances and notes."""

    name = "ledger"
    Settings: ClassVar[type[ConnectorSettings]] = LedgerSettings
    settings: LedgerSettings

    def __init__(
        self, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """`transport` replaces httpx's network transport, e.g. with `httpx.MockTransport` in tests."""
        if not isinstance(settings, LedgerSettings):
            raise TypeError(f"LedgerConnector needs LedgerSettings, got {type(settings).__name__}")
        super().__init__(settings)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        if self._client is not None:
            return
        # One pooled client for the worker's lifetime. httpx never retries on its own (no
        # transport retries configured): Temporal owns retries, with backoff and history.
        self._client = httpx.AsyncClient(
            base_url=str(self.settings.base_url),
            timeout=self.settings.timeout_seconds,
            headers={
                "X-Api-Key": self.settings.api_key.get_secret_value(),
                "Accept": "application/json",
            },
            transport=self._transport,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @action(effect=Effect.READ)
    async def get_customer(self, req: GetCustomer) -> Customer:
        """Look up a ledger customer by id: name, credit limit, current balance and currency."""
        response = await self._send("GET", f"/customers/{_segment(req.customer_id)}")
        return _decode(Customer, response)

    @action(effect=Effect.WRITE, compensate="set_credit_limit")
    async def set_credit_limit(self, req: SetCreditLimit) -> Customer:
        """Set a customer's credit limit (in the customer's currency); returns the updated customer."""
        response = await self._send(
            "PUT",
            f"/customers/{_segment(req.customer_id)}/credit-limit",
            # Plain notation ("1000", never "1E+3"): the ledger's wire format for money.
            json={"credit_limit": format(req.credit_limit, "f")},
            idempotent=True,
        )
        return _decode(Customer, response)

    @action(effect=Effect.WRITE)
    async def add_note(self, req: AddNote) -> Note:
        """Attach a free-text note to a customer's ledger record; returns the stored note."""
        response = await self._send(
            "POST",
            f"/customers/{_segment(req.customer_id)}/notes",
            json={"text": req.text},
            idempotent=True,
        )
        return _decode(Note, response)

    @action(effect=Effect.DESTRUCTIVE)
    async def delete_customer(self, req: DeleteCustomer) -> Deleted:
        """Permanently delete a customer from the ledger; this cannot be undone."""
        # The ledger accepts an optional key on DELETE: with it, a retry after a lost response
        # gets the original answer instead of a 404 that would look like a failure.
        response = await self._send("DELETE", f"/customers/{_segment(req.customer_id)}", idempotent=True)
        return _decode(Deleted, response)

    async def _send(
        self, method: str, path: str, *, json: Any = None, idempotent: bool = False
    ) -> httpx.Response:
        if self._client is None:
            raise RuntimeError("LedgerConnector.open() must run before its actions")
        headers = {"Idempotency-Key": current_call().idempotency_key} if idempotent else None
        try:
            response = await self._client.request(method, path, json=json, headers=headers)
        except httpx.TransportError as exc:
            raise _ledger_error(method, path, exc) from exc
        if not response.is_success:
            raise _ledger_error(method, path, response)
        return response


def _ledger_error(method: str, path: str, failure: httpx.Response | httpx.TransportError) -> RetrofitError:
    """The one place where ledger failures become Retrofit errors.

    Messages name the method, path and status and quote at most a short excerpt of the response
    body; request headers (which carry the API key) never appear.
    """
    where = f"ledger {method} {path}"
    if isinstance(failure, httpx.TimeoutException):
        return RetryableError(f"{where} timed out ({type(failure).__name__})")
    if isinstance(failure, httpx.TransportError):
        return RetryableError(f"{where} failed in transit ({type(failure).__name__}: {failure})")

    status = failure.status_code
    summary = _summarize(failure)
    # 408 belongs with 429 and 5xx: the server asks us to come back, the request itself was fine.
    if status in (408, 429) or status >= 500:
        return RetryableError(
            f"{where} answered {status}: {summary}",
            retry_after=_retry_after(failure.headers.get("Retry-After")),
            details=summary,
        )
    if status in (401, 403):
        return AuthError(f"{where} refused our credentials ({status}): {summary}", details=summary)
    if 400 <= status < 500:
        return ActionInputError(f"{where} refused the request ({status}): {summary}", details=summary)
    # Redirects and other surprises: the base URL or a proxy is misconfigured; retrying won't help.
    return NonRetryableError(f"{where} answered an unexpected {status}", details=summary)


def _summarize(response: httpx.Response) -> str:
    """The ledger's own error message when it sent one, else the body, cut to a short excerpt."""
    text = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        text = body["error"]
    text = " ".join(text.split()) or "(empty body)"
    return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 1] + "…"


def _retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` as delta-seconds or as an HTTP date (RFC 9110 allows both)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unparseable: let the retry policy's own backoff decide
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - datetime.now(UTC), timedelta(0))


def _decode(model: type[_Model], response: httpx.Response) -> _Model:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        # A 2xx we cannot read means the two sides disagree on the contract; retrying won't fix it.
        raise NonRetryableError(
            f"ledger answered {response.status_code} with a body that is not a {model.__name__}",
            details=_summarize(response),
        ) from exc


def _segment(value: str) -> str:
    """One URL path segment; the input models already restrict ids, this keeps paths safe anyway."""
    return quote(value, safe="")
