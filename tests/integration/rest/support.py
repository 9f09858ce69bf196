"""Helpers the REST tests share: binding a running call, the control planes, connector factories."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx

from connectors.crm.connector import CrmConnector
from connectors.rest import OAuth2ClientCredentials, RestConnector
from retrofit.sdk import ConnectorSettings
from retrofit.sdk.context import ActionContext
from retrofit.sdk.context import running_call as sdk_running_call


def running_call(idempotency_key: str, action: str = "crm.add_note") -> AbstractContextManager[ActionContext]:
    """What the worker does around an action: bind the call, so `current_call()` and capture work."""
    return sdk_running_call(action, idempotency_key, workflow_id="wf-crm-test", run_id="run-1")


async def admin(url: str, method: str, path: str, json: Any = None) -> Any:
    """One call to a demo server's control plane (plain HTTP on loopback: no CA bundle to load)."""
    async with httpx.AsyncClient(base_url=url, timeout=5, verify=False) as client:
        response = await client.request(method, f"/_admin/{path}", json=json)
        response.raise_for_status()
        return response.json()


def crm_connector(url: str, **overrides: Any) -> CrmConnector:
    return CrmConnector(CrmConnector.load_settings(base_url=url, **overrides))


class ManualClock:
    """A monotonic clock a test moves by hand: token expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CrmOnClock(CrmConnector):
    """The CRM connector with its token lifetimes measured on a clock the test controls."""

    def __init__(self, settings: ConnectorSettings, clock: Callable[[], float]) -> None:
        super().__init__(settings)
        self._clock = clock

    def build_auth(self) -> OAuth2ClientCredentials:
        s = self.settings
        return OAuth2ClientCredentials(
            s.token_path, s.client_id, s.client_secret, scope=s.scope, system=self.name, clock=self._clock
        )


class ProbeConnector(RestConnector):
    """The smallest REST connector: the base with a given auth flow (or transport), no actions."""

    name = "probe"

    def __init__(
        self,
        url: str,
        auth: httpx.Auth | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(self.load_settings(base_url=url, **settings), transport=transport)
        self._auth = auth

    def build_auth(self) -> httpx.Auth | None:
        return self._auth
