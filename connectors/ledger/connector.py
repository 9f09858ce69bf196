"""The demo ledger's connector: its REST API (`legacy/ledger`) as four typed actions, on the REST base."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator

from connectors.ledger.models import (
    AddNote,
    Customer,
    DeleteCustomer,
    Deleted,
    GetCustomer,
    Note,
    SetCreditLimit,
)
from connectors.rest import ApiKeyAuth, RestConnector, RestSettings, path_segment
from connectors.rest.idempotency_lookup import lookup_stored_write
from retrofit.sdk import ConnectorSettings, Effect, LookupResult, action


class LedgerSettings(RestSettings):
    """`RETROFIT_LEDGER_BASE_URL`, `RETROFIT_LEDGER_API_KEY`, ... (see RestSettings)."""

    base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8701")
    api_key: SecretStr = SecretStr("demo-ledger-key")
    # The ledger answers in milliseconds; 10 s (its limit before the REST base) fails a stuck call
    # well inside the action's 30 s, as a retryable timeout rather than a lost activity.
    read_timeout: float = Field(default=10.0, gt=0)
    # The connector's single timeout from before the REST base, still accepted so existing
    # `RETROFIT_LEDGER_TIMEOUT_SECONDS` deployments keep their limit: it sets `connect_timeout` and
    # `read_timeout` (what it bounded then), unless those are given themselves.
    timeout_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _apply_timeout_seconds(self) -> Self:
        if self.timeout_seconds is not None:
            if "connect_timeout" not in self.model_fields_set:
                self.connect_timeout = self.timeout_seconds
            if "read_timeout" not in self.model_fields_set:
                self.read_timeout = self.timeout_seconds
        return self


class LedgerConnector(RestConnector):
    """Demo ledger (REST): customers of the demo ERP with their credit limits, balances and notes."""

    name = "ledger"
    Settings: ClassVar[type[ConnectorSettings]] = LedgerSettings
    settings: LedgerSettings

    def build_auth(self) -> ApiKeyAuth:
        return ApiKeyAuth(self.settings.api_key)

    async def lookup(self, idempotency_key: str) -> LookupResult:
        """The ledger keeps the first answer of every Idempotency-Key and reports it (`GET
        /idempotency-keys`): after a lost answer, the framework learns whether the write landed."""
        return await lookup_stored_write(self, "/idempotency-keys", idempotency_key)

    @action(effect=Effect.READ)
    async def get_customer(self, req: GetCustomer) -> Customer:
        """Look up a ledger customer by id: name, credit limit, current balance and currency."""
        return await self.request_json("GET", f"/customers/{path_segment(req.customer_id)}", expect=Customer)

    @action(effect=Effect.WRITE, compensate="set_credit_limit")
    async def set_credit_limit(self, req: SetCreditLimit) -> Customer:
        """Set a customer's credit limit (in the customer's currency); returns the updated customer."""
        return await self.request_json(
            "PUT",
            f"/customers/{path_segment(req.customer_id)}/credit-limit",
            # Plain notation ("1000", never "1E+3"): the ledger's wire format for money.
            json={"credit_limit": format(req.credit_limit, "f")},
            idempotent=True,
            expect=Customer,
        )

    @action(effect=Effect.WRITE)
    async def add_note(self, req: AddNote) -> Note:
        """Attach a free-text note to a customer's ledger record; returns the stored note."""
        return await self.request_json(
            "POST",
            f"/customers/{path_segment(req.customer_id)}/notes",
            json={"text": req.text},
            idempotent=True,
            expect=Note,
        )

    @action(effect=Effect.DESTRUCTIVE)
    async def delete_customer(self, req: DeleteCustomer) -> Deleted:
        """Permanently delete a customer from the ledger; this cannot be undone."""
        # The ledger accepts an optional key on DELETE: with it, a retry after a lost response
        # gets the original answer instead of a 404 that would look like a failure.
        return await self.request_json(
            "DELETE", f"/customers/{path_segment(req.customer_id)}", idempotent=True, expect=Deleted
        )
