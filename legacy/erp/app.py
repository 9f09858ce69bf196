"""The demo ERP's HTTP surface, a Starlette application.

    GET  /erp?wsdl      the WSDL (document/literal, SOAP 1.1), its address pointing back here
    POST /erp           SOAP 1.1: GetCustomer, ListInvoices, GetInvoice, RecordPayment,
                        ReversePayment, VoidInvoice (see `operations`)

Answers are SOAP envelopes (`text/xml`); faults answer HTTP 500 as SOAP 1.1 requires:
`soap:Client` (with an `erp:ErpFault` detail code) for bad input and unknown ids,
`wsse:FailedAuthentication` ("authentication failed") for a missing or wrong UsernameToken
when the server checks credentials, `soap:Server` for injected failures.

Control plane under `/_admin/` (JSON, no credentials: it binds to loopback and belongs to the
test harness): `GET health`, `POST reset`, `GET|POST faults`, `GET effects`. Faults hit
business requests only, so a test can always reach the control plane.

    POST /_admin/faults  {"fail_next": 1}                                  one soap:Server fault
                         {"fail_next": 1, "failure": "http", "status": 503, "retry_after": 2}
                         {"latency_ms": 500}   {"drop_next": 1, "drop_after_apply": true}
    GET  /_admin/effects {"payments": {"INV-10002": 1}, "reversals": {}, "voids": {},
                          "total": 1, "replays": 1}
"""

from __future__ import annotations

from http import HTTPStatus

from pydantic import Field, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from legacy.admin import AdminApi
from legacy.erp.envelopes import CONTENT_TYPE, SoapFault, fault_envelope, parse_request
from legacy.erp.operations import ErpOperations
from legacy.erp.security import check_username_token
from legacy.erp.store import ErpState, FaultPlan
from legacy.erp.wsdl import render_wsdl
from legacy.faults import FaultPlanRequest, delay_or_drop, problems_of

DEFAULT_USERNAME = "retrofit"
DEFAULT_PASSWORD = "demo-erp-password"

_MAX_BODY_BYTES = 64 * 1024


def create_app(
    state: ErpState,
    *,
    username: str | None = DEFAULT_USERNAME,
    password: str | None = DEFAULT_PASSWORD,
) -> Starlette:
    """The ERP serving `state`; with `username` and `password` set, calls need a UsernameToken."""
    endpoint = _SoapEndpoint(state, credentials=(username, password) if username and password else None)
    admin = _AdminApi(state)
    return Starlette(
        routes=[
            Route("/erp", endpoint.wsdl, methods=["GET"]),
            Route("/erp", endpoint.call, methods=["POST"]),
            Route("/_admin/health", admin.health, methods=["GET"]),
            Route("/_admin/reset", admin.reset, methods=["POST"]),
            Route("/_admin/faults", admin.get_faults, methods=["GET"]),
            Route("/_admin/faults", admin.set_faults, methods=["POST"]),
            Route("/_admin/effects", admin.effects, methods=["GET"]),
        ],
        # Around the routes, so injected faults never reach the ERP's own logic.
        middleware=[Middleware(_FaultInjection, state=state)],
    )


class _SoapEndpoint:
    def __init__(self, state: ErpState, *, credentials: tuple[str, str] | None) -> None:
        self._operations = ErpOperations(state)
        self._credentials = credentials

    async def wsdl(self, request: Request) -> Response:
        if "wsdl" not in request.query_params:
            return PlainTextResponse("POST SOAP 1.1 requests here; the WSDL is at ?wsdl", status_code=405)
        address = str(request.url.replace(query=None))
        return Response(render_wsdl(address), media_type="text/xml")

    async def call(self, request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_BODY_BYTES:  # stop reading: a demo server need not buffer floods
                return _fault_response(SoapFault("soap:Client", "the request is too large"))
        try:
            soap_request = parse_request(bytes(body))
            if self._credentials is not None:
                check_username_token(soap_request.header, *self._credentials)
            answer = self._operations.handle(soap_request.operation, soap_request.payload)
        except SoapFault as fault:
            return _fault_response(fault)
        return Response(answer, media_type=CONTENT_TYPE)


def _fault_response(fault: SoapFault, headers: dict[str, str] | None = None) -> Response:
    return Response(fault_envelope(fault), status_code=500, media_type=CONTENT_TYPE, headers=headers)


# -- fault injection -----------------------------------------------------------------------------


class _FaultInjection:
    """Applies the fault plan to SOAP calls (`POST /erp`): latency, failures, dropped connections.

    WSDL downloads and the control plane are spared, so clients can always be built and tests
    can always reach `/_admin/`.
    """

    def __init__(self, app: ASGIApp, state: ErpState) -> None:
        self._app = app
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/erp":
            await self._app(scope, receive, send)
            return
        fault = self._state.next_fault()
        await delay_or_drop(fault, self._app, scope, receive, send, content_type=CONTENT_TYPE)
        headers = None if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.failure == "http":
            phrase = HTTPStatus(fault.status).phrase
            failed: Response = PlainTextResponse(f"{fault.status} {phrase}", fault.status, headers)
        elif fault.failure == "soap_fault":
            injected = SoapFault(
                "soap:Server", "the ERP database is not answering", detail_code="SERVICE_UNAVAILABLE"
            )
            failed = _fault_response(injected, headers)
        else:
            await self._app(scope, receive, send)
            return
        await failed(scope, receive, send)


# -- control plane ---------------------------------------------------------------------------------


class _FaultPlanRequest(FaultPlanRequest):
    # How `fail_next` requests fail: a soap:Server fault, or a bare HTTP `status` ("http").
    failure: str = Field(default="soap_fault", pattern="^(soap_fault|http)$")


class _AdminApi(AdminApi[ErpState]):
    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self._state.faults.to_json())

    async def set_faults(self, request: Request) -> Response:
        try:
            plan = _FaultPlanRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"error": problems_of(exc)}, status_code=400)
        self._state.set_faults(FaultPlan(**plan.model_dump()))
        return JSONResponse(self._state.faults.to_json())

    async def effects(self, request: Request) -> Response:
        return JSONResponse(self._state.effects())
