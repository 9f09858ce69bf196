"""The HTTP side of a SOAP connector: zeep's `AsyncTransport` over an httpx client from settings.

One `httpx.AsyncClient` per connector instance, so the worker keeps a connection pool to the
service. Client-side retries stay off (httpx never retries a request unless its transport is
configured to; ours is not): Temporal owns retries, with backoff and a history of attempts.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx
from zeep.transports import AsyncTransport

from connectors.soap.capture import note_http_answer


class SoapHttpTransport(AsyncTransport):
    """zeep's httpx transport that notes each answer's status for error mapping and capture.

    It never loads documents: the WSDL was parsed beforehand through the offline loader, and
    answers must not make the client fetch anything (a DTD or entity URL in a response).
    """

    async def post(self, address: str, message: Any, headers: Any) -> httpx.Response:
        response: httpx.Response = await super().post(address, message, headers)  # type: ignore[no-untyped-call]
        note_http_answer(response.status_code, response.headers.get("Retry-After"))
        return response

    def load(self, url: str) -> bytes:
        raise RuntimeError(f"a SOAP answer asked to load {url!r}; answers may not fetch documents")

    async def aclose(self) -> None:
        await self.client.aclose()
        self.wsdl_client.close()


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    # Loading the CA bundle costs tens of milliseconds; every SOAP client of a worker shares one
    # context (SSLContext is safe to share between connections and threads).
    return httpx.create_ssl_context(verify=verify)


def _no_documents(request: httpx.Request) -> httpx.Response:
    raise RuntimeError(f"unexpected document fetch of {request.url} through the SOAP transport")


def build_transport(
    *,
    timeout: float,
    connect_timeout: float,
    verify: bool = True,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> SoapHttpTransport:
    """A transport whose operations time out after `timeout` seconds (`connect_timeout` to connect).

    `http_transport` replaces the network (e.g. `httpx.MockTransport` in tests).
    """
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        transport=http_transport or httpx.AsyncHTTPTransport(retries=0, verify=_tls_context(verify)),
        follow_redirects=False,
    )
    # zeep insists on a synchronous client for documents; ours refuses, see `load` above.
    wsdl_client = httpx.Client(transport=httpx.MockTransport(_no_documents), trust_env=False)
    return SoapHttpTransport(client=client, wsdl_client=wsdl_client)  # type: ignore[no-untyped-call]
