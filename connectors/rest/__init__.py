"""The REST connector base: httpx, auth flows, pagination, error mapping, audit capture.

A connector to a REST system in a few lines:

    class AcmeSettings(RestSettings):
        base_url: AnyHttpUrl = AnyHttpUrl("https://acme.example/api")
        client_id: str = "retrofit"
        client_secret: SecretStr

    class Acme(RestConnector):
        '''Acme CRM, REST API v2.'''
        name = "acme"
        Settings = AcmeSettings
        settings: AcmeSettings

        def build_auth(self) -> httpx.Auth:
            return OAuth2ClientCredentials("/oauth/token", self.settings.client_id,
                                           self.settings.client_secret, system=self.name)

        @action(effect=Effect.READ)
        async def get_customer(self, req: GetCustomer) -> Customer:
            '''Fetch one customer by id.'''
            return await self.request_json("GET", f"/customers/{path_segment(req.id)}", expect=Customer)

Modules, each with one job:

    settings        RestSettings: base URL, timeouts, TLS, proxy, headers, rate limit
    client          build_client(): the one pooled AsyncClient, built from settings
    connector       RestConnector: open/close, request(), request_json(), paginate()
    auth/           httpx.Auth flows: API key, Basic, bearer, OAuth2 client credentials, session login;
                    failed logins held so they never add attempts (LoginLockedOut)
    jsonrpc         JsonRpcConnector: JSON-RPC calls (Tryton, Odoo), `error` members -> typed errors
    pagination      PageNumber, OffsetLimit, Cursor, LinkHeader strategies; Paginated with its cap
    status_mapping  map_failure(): HTTP statuses and httpx exceptions → Retrofit errors; Retry-After
    capture         record_exchange(): redacted wire summaries for the audit trail
    body_excerpt    short redacted excerpts of bodies for errors and audit
    decoding        bodies → pydantic models, with errors that say where they did not fit
    rate_limit      TokenBucket: spaces requests without polling
    urls            path_segment(), same_origin()
"""

from connectors.rest.auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    CredentialFlow,
    LoginLockedOut,
    OAuth2ClientCredentials,
    SessionAuth,
)
from connectors.rest.connector import DEFAULT_MAX_ITEMS, RestConnector
from connectors.rest.jsonrpc import JsonRpcConnector, RpcError
from connectors.rest.pagination import (
    Cursor,
    LinkHeader,
    OffsetLimit,
    Page,
    PageNumber,
    PageStrategy,
    Paginated,
)
from connectors.rest.settings import RestSettings
from connectors.rest.status_mapping import map_failure
from connectors.rest.urls import path_segment
from retrofit.sdk.retry_after import parse_retry_after

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "CredentialFlow",
    "Cursor",
    "JsonRpcConnector",
    "LinkHeader",
    "LoginLockedOut",
    "OAuth2ClientCredentials",
    "OffsetLimit",
    "Page",
    "PageNumber",
    "PageStrategy",
    "Paginated",
    "RestConnector",
    "RestSettings",
    "RpcError",
    "SessionAuth",
    "map_failure",
    "parse_retry_after",
    "path_segment",
]
