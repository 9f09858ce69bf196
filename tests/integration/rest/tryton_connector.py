"""A Tryton connector as an integrator writes it: `JsonRpcConnector` and a `CredentialFlow` login.

The same code is the worked example of docs/integrator-guide.md ("Logins that answer a token").
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
from pydantic import AnyHttpUrl, BaseModel, SecretStr

from connectors.rest import CredentialFlow, RestSettings
from connectors.rest.jsonrpc import JsonRpcConnector
from retrofit import ActionInput, ActionInputError, Effect, action
from retrofit.sdk import AuthError
from tests.integration.rest.jsonrpc_server import DATABASE, LOGIN


class TrytonLogin(CredentialFlow[str]):
    """Tryton's login: `common.db.login` answers `[user_id, session]` in the body; later calls
    send `Authorization: Session base64(login:user_id:session)`."""

    fetch_operation = "common.db.login"  # how the audit record names the login exchange

    def __init__(
        self,
        database: str,
        login: str,
        password: SecretStr,
        *,
        system: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(system=system, clock=clock)
        self.database = database
        self.login = login
        self._password = password

    def credential_request(self, request: httpx.Request) -> httpx.Request:
        params = [self.login, {"password": self._password.get_secret_value()}]
        body = {"id": 0, "method": "common.db.login", "params": params}
        return self.fetch_request(f"/{self.database}/", request, json=body)

    def accept(self, response: httpx.Response) -> str:
        if not response.is_success:
            raise self.refused(response)  # 401 AuthError; 429 LoginLockedOut; 5xx retryable
        try:
            body = response.json()
        except ValueError:
            body = None
        result = body.get("result") if isinstance(body, dict) else None
        if not (isinstance(result, list) and len(result) == 2):
            # A LoginException (Tryton wants another parameter) or no session: quote nothing,
            # the body is a credential.
            raise AuthError(
                f"{self.system} common.db.login answered {response.status_code} without a session"
            )
        user_id, session = result
        return base64.b64encode(f"{self.login}:{user_id}:{session}".encode()).decode()

    def apply(self, credential: str, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Session {credential}"


class TrytonSettings(RestSettings):  # RETROFIT_TRYTON_TEST_BASE_URL, _DATABASE, _LOGIN, _PASSWORD
    base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    database: str = DATABASE
    login: str = LOGIN
    password: SecretStr


class GetParty(ActionInput):
    party_id: int


class Party(BaseModel):
    id: int
    name: str
    code: str


class CreateParty(ActionInput):
    name: str


class CreatedParty(BaseModel):
    id: int


class Tryton(JsonRpcConnector):
    """Tryton ERP over JSON-RPC."""

    name = "tryton_test"
    Settings = TrytonSettings
    settings: TrytonSettings
    jsonrpc_version = None  # Tryton's bodies carry no "jsonrpc" member

    def rpc_path(self, method: str) -> str:
        return f"/{self.settings.database}/"

    def build_auth(self) -> httpx.Auth:
        s = self.settings
        return TrytonLogin(s.database, s.login, s.password, system=self.name)

    @action(effect=Effect.READ)
    async def get_party(self, req: GetParty) -> Party:
        """One party by id."""
        parties = await self.rpc(
            "model.party.party.read", [[req.party_id], ["name", "code"], {}], expect=list[Party]
        )
        if len(parties) != 1:
            raise ActionInputError(f"{self.name}: no party {req.party_id}")
        return parties[0]

    @action(effect=Effect.WRITE)
    async def create_party(self, req: CreateParty) -> CreatedParty:
        """Create a party with a name."""
        (new_id,) = await self.rpc("model.party.party.create", [[{"name": req.name}], {}], expect=list[int])
        return CreatedParty(id=new_id)
