"""Helpers for tests against the demo ERP: bound action calls, the control plane, raw SOAP."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx

from connectors.erp.connector import ErpConnector
from legacy.erp.envelopes import SOAP_ENV, WSSE
from legacy.erp.server import ErpServer
from legacy.erp.wsdl import NAMESPACE, soap_action
from retrofit.sdk.context import ActionContext
from retrofit.sdk.context import running_call as sdk_running_call

# One client for the whole run: building one per request (as `httpx.post` does) costs an SSL
# context each time, which dominates these millisecond-long loopback calls. No keep-alive: a
# pooled connection the server closed while idle would fail the next request for no reason.
http = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))


def running_call(
    idempotency_key: str, action: str = "erp.record_payment"
) -> AbstractContextManager[ActionContext]:
    """What the worker does around an action: bind the call, so `current_call()` and capture work."""
    return sdk_running_call(action, idempotency_key, workflow_id="wf-erp-test", run_id="run-1")


def connector_for(server: ErpServer, **overrides: Any) -> ErpConnector:
    settings = ErpConnector.load_settings(
        **{"wsdl": server.wsdl_url, "username": server.username, "password": server.password, **overrides}
    )
    return ErpConnector(settings)


def admin(server: ErpServer, method: str, path: str, json: Any = None) -> Any:
    response = http.request(method, f"{server.url}/_admin/{path}", json=json)
    response.raise_for_status()
    return response.json()


def soap_post(
    server: ErpServer,
    operation: str,
    payload: str,
    *,
    username: str | None = None,
    password: str | None = None,
) -> httpx.Response:
    """A hand-written SOAP 1.1 request, to test the server's contract without zeep in between."""
    username = server.username if username is None else username
    password = server.password if password is None else password
    header = (
        f'<soap:Header><wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken>'
        f"<wsse:Username>{username}</wsse:Username><wsse:Password>{password}</wsse:Password>"
        "</wsse:UsernameToken></wsse:Security></soap:Header>"
        if username
        else ""
    )
    envelope = (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:erp="{NAMESPACE}">{header}'
        f"<soap:Body><erp:{operation}>{payload}</erp:{operation}></soap:Body></soap:Envelope>"
    )
    return http.post(
        f"{server.url}/erp",
        content=envelope.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap_action(operation)}"'},
    )
