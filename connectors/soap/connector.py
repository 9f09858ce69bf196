"""`SoapConnector`: the base class of SOAP connector plugins.

    class Acme(SoapConnector):
        '''Acme ERP, SOAP API v3.'''
        name = "acme"
        Settings = AcmeSettings               # a SoapSettings subclass with a default `wsdl`

        @action(effect=Effect.READ)
        async def get_customer(self, req: GetCustomer) -> Customer:
            '''Fetch one customer by id.'''
            return await self.call("GetCustomer", req, returns=Customer)

`open()` builds the client once per worker: the WSDL comes from the process-wide cache
(`wsdl_cache`), the HTTP transport from settings, WS-Security and audit capture as plugins.
`call()` maps Python-named models to the operation's elements and back (`signatures`) and
turns every failure into a Retrofit error (`faults.soap_error`).

Three hooks fit the base to a vendor:

- `error_codes` (a class table: vendor code -> error class) and `classify_fault(fault)` decide
  what a SOAP fault is, before the defaults (`faults` has the table);
- `answer_error(operation, answer)` turns an error reported inside a normal answer (FedEx's
  `HighestSeverity=ERROR`) into a Retrofit error; `severity_error` is the common case;
- `call_with_headers()` returns the answer's SOAP headers with its body (Bing's `TrackingId`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from zeep import AsyncClient
from zeep import exceptions as zeep_errors
from zeep.proxy import AsyncServiceProxy
from zeep.settings import Settings as ZeepSettings

from connectors.soap.capture import ExchangeCapture, begin_exchange, finish_exchange
from connectors.soap.faults import (
    ErrorKind,
    VendorFault,
    answer_error,
    reported_errors,
    soap_error,
)
from connectors.soap.loader import WsdlFetchError
from connectors.soap.operations import UnknownOperation, find_operation
from connectors.soap.security import username_token
from connectors.soap.settings import SoapSettings
from connectors.soap.signatures import (
    ArgumentMismatch,
    from_soap_value,
    input_fields,
    response_content,
    shape_for,
    to_soap_arguments,
)
from connectors.soap.transport import SoapHttpTransport, build_transport
from connectors.soap.wsdl_cache import load_wsdl
from retrofit.sdk import (
    ActionInputError,
    Connector,
    ConnectorSettings,
    NonRetryableError,
    RetrofitError,
    RetryableError,
)

log = logging.getLogger(__name__)

_Model = TypeVar("_Model", bound=BaseModel)

#: SOAP headers for one call or for every call of a client: element name -> value (for headers
#: the WSDL declares, e.g. Salesforce's {"SessionHeader": {"sessionId": ...}}), or ready-made
#: lxml elements for headers it does not.
SoapHeaders = Mapping[str, Any] | Sequence[Any]

# zeep converts values while it parses an answer: a malformed number or date in it surfaces as
# ValueError or decimal.InvalidOperation (an ArithmeticError), "unreadable answer" like bad XML.
_CALL_FAILURES = (
    httpx.HTTPError,
    zeep_errors.Error,
    ArgumentMismatch,
    WsdlFetchError,
    ValueError,
    ArithmeticError,
)

#: What a severity such as FedEx's `HighestSeverity` means when it is not a success.
DEFAULT_FAILING_SEVERITIES: Mapping[str, ErrorKind] = {
    "ERROR": ActionInputError,  # FedEx: the request has errors; PayPal/eBay `Ack=Failure` alike
    "FAILURE": RetryableError,  # FedEx: the service could not process it (a system problem)
}


# Severities of one reported item that say it is not the reason for a failure.
_BENIGN_SEVERITIES = frozenset({"SUCCESS", "NOTE", "WARNING", "INFO", "INFORMATION", "INFORMATIONAL"})


def _benign(item: Any) -> bool:
    if not isinstance(item, Mapping):
        return False
    level = item.get("severity") or item.get("severity_code")
    return str(level or "").strip().upper() in _BENIGN_SEVERITIES


@dataclass(frozen=True)
class SoapAnswer(Generic[_Model]):
    """An answer with its SOAP headers: `result` as the action's model, `headers` as plain data
    with Python names (`{"tracking_id": "…"}`; see `capture.soap_headers`)."""

    result: _Model
    headers: Mapping[str, Any]


class SoapConnector(Connector):
    """A legacy system behind a WSDL; subclasses declare `@action` methods that use `call()`."""

    Settings: ClassVar[type[ConnectorSettings]] = SoapSettings
    settings: SoapSettings
    #: Vendor fault codes -> the error they mean, before the defaults (compared without case,
    #: `_` or `-`; a code may be a number): `{"105": AuthError, "1029": ActionInputError}`.
    #: Read from the faultcode, its subcodes and the detail's `Code`/`ErrorCode` elements, and
    #: from the errors `severity_error` reads out of answers.
    error_codes: ClassVar[Mapping[str, ErrorKind]] = {}

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        http_transport: httpx.AsyncBaseTransport | None = None,
        wsdl_http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`http_transport` / `wsdl_http_transport` replace the network for calls / WSDL fetches (tests)."""
        if not isinstance(settings, SoapSettings):
            raise TypeError(f"{type(self).__name__} needs SoapSettings, got {type(settings).__name__}")
        super().__init__(settings)
        self._http_transport = http_transport
        self._wsdl_http_transport = wsdl_http_transport
        self._client: Any = None
        self._service: Any = None
        self._transport: SoapHttpTransport | None = None
        self._default_headers: SoapHeaders | None = None
        self._building = asyncio.Lock()  # one client even when first calls race after a deferred open

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Build the client once per worker.

        A WSDL server that cannot be reached right now does not stop the worker (the other
        connectors keep working): the client is built on the first call instead, and that call
        is retried until the service is back. A WSDL that is wrong stops the worker at once.
        """
        try:
            await self._ensure_client()
        except WsdlFetchError as exc:
            if not exc.transient:
                raise
            log.warning("%s: WSDL unavailable at start (%s); will retry on first call", self.name, exc)

    async def close(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
        self._transport = None
        self._client = None
        self._service = None

    async def _ensure_client(self) -> None:
        async with self._building:
            if self._client is None:
                await self._build_client()

    async def _build_client(self) -> None:
        settings = self.settings
        document = await asyncio.to_thread(
            load_wsdl,
            settings.wsdl,
            strict=settings.strict,
            xml_huge_tree=settings.xml_huge_tree,
            schema_locations=settings.schema_locations,
            cache_dir=settings.wsdl_cache_dir,
            timeout=settings.wsdl_timeout_seconds,
            http_transport=self._wsdl_http_transport,
        )
        transport = build_transport(
            timeout=settings.timeout_seconds,
            connect_timeout=settings.connect_timeout_seconds,
            verify=settings.verify_tls,
            http_transport=self._http_transport,
        )
        plugins: list[Any] = []
        secrets: list[str] = []
        if settings.username:
            if settings.password is None:
                raise ValueError(f"{self.name}: `username` is set but `password` is not")
            plugins.append(
                username_token(settings.username, settings.password, digest=settings.password_digest)
            )
            secrets.append(settings.password.get_secret_value())
        # Last, so it records the envelope exactly as it leaves (after WS-Security).
        plugins.append(ExchangeCapture(secrets=secrets, limit=settings.capture_limit))
        client = AsyncClient(  # type: ignore[no-untyped-call]
            document,
            transport=transport,
            plugins=plugins,
            # Answers with a DOCTYPE are refused: no SOAP service needs one, and XXE tricks do.
            settings=ZeepSettings(
                strict=settings.strict, xml_huge_tree=settings.xml_huge_tree, forbid_dtd=True
            ),
        )
        self._service = _bind(client, settings)
        if self._default_headers is not None:
            client.set_default_soapheaders(self._default_headers)  # type: ignore[no-untyped-call]
        self._client, self._transport = client, transport

    # -- hooks for subclasses -------------------------------------------------------------------

    def classify_fault(self, fault: VendorFault) -> RetrofitError | ErrorKind | None:
        """What a SOAP fault means, for faults `error_codes` cannot say (None: let the base decide).

        Return an error class (the base writes the message, naming the fault and the vendor
        errors) or a ready error. `fault.errors` are the vendor errors read from the detail,
        `fault.has("105", "InvalidCredentials")` checks every code, `fault.headers` are the
        answer's SOAP headers and `fault.detail` the raw detail element.
        """
        return None

    def answer_error(self, operation: str, answer: Any) -> RetrofitError | None:
        """An error the service reported inside a normal answer (HTTP 200, no fault), or None.

        `answer` is the plain data `call_raw` would return. The base finds nothing by default;
        a FedEx connector returns `self.severity_error(operation, answer)`. What this returns is
        raised from `call`, after the exchange is in the audit record.
        """
        return None

    def severity_error(
        self,
        operation: str,
        answer: Any,
        *,
        severity: str = "highest_severity",
        errors: str = "notifications",
        failing: Mapping[str, ErrorKind] = DEFAULT_FAILING_SEVERITIES,
    ) -> RetrofitError | None:
        """The error for an answer whose `severity` field says it failed (None if it did not).

        FedEx: `HighestSeverity` ERROR (input) or FAILURE (transient), the reasons in
        `Notifications` (each `Severity`, `Code`, `Message`). PayPal and eBay: `severity="ack",
        errors="errors", failing={"Failure": ActionInputError, "FailureWithWarning":
        ActionInputError}` (each error `SeverityCode`, `ErrorCode`, `LongMessage`). Items whose
        own severity is a benign one (SUCCESS, NOTE, WARNING, INFO) are not quoted. Codes in
        `error_codes` (FedEx's 1000, "Authentication Failed", as `AuthError`) override what the
        severity means.
        """
        if not isinstance(answer, Mapping):
            return None
        level = str(answer.get(severity) or "").strip().upper()
        table = {name.upper(): kind for name, kind in failing.items()}
        kind = table.get(level)
        if kind is None:
            return None
        items = answer.get(errors) or []
        items = [items] if isinstance(items, Mapping) else list(items) if isinstance(items, list) else []
        failing_items = [item for item in items if not _benign(item)]
        return answer_error(
            self.name,
            operation,
            reported_errors(failing_items, element=errors),
            kind=kind,
            status=f"{severity} {level}",
            error_codes=self.error_codes,
        )

    # -- for subclasses -------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The zeep `AsyncClient` (for what `call` does not cover: type factories, raw calls)."""
        if self._client is None:
            raise RuntimeError(f"{type(self).__name__}.open() must run before its actions")
        return self._client

    @property
    def document(self) -> Any:
        """The parsed WSDL (zeep `Document`), shared with every client of this worker."""
        return self.client.wsdl

    def set_soap_headers(self, headers: SoapHeaders | None) -> None:
        """SOAP headers sent with every call from now on, e.g. a session header after a login."""
        self._default_headers = headers
        if self._client is not None:
            self._client.set_default_soapheaders(headers)

    async def call(
        self,
        operation: str,
        arguments: BaseModel | Mapping[str, Any] | None = None,
        *,
        returns: type[_Model],
        headers: SoapHeaders | None = None,
    ) -> _Model:
        """Call `operation` with Python-named `arguments`; return its answer as `returns`.

        `arguments` is the action's input model or a mapping (use a mapping to add fields the
        model leaves to the connector, such as an idempotency key). Failures raise Retrofit
        errors: see `faults.soap_error` for the classification.
        """
        data, _ = await self._invoke(operation, arguments, headers)
        return self._validated(operation, data, returns)

    async def call_with_headers(
        self,
        operation: str,
        arguments: BaseModel | Mapping[str, Any] | None = None,
        *,
        returns: type[_Model],
        headers: SoapHeaders | None = None,
    ) -> SoapAnswer[_Model]:
        """Like `call`, with the answer's SOAP headers too (Bing's `TrackingId`, a renewed
        session id), whether or not the WSDL declares them."""
        data, response_headers = await self._invoke(operation, arguments, headers)
        return SoapAnswer(self._validated(operation, data, returns), response_headers)

    def _validated(self, operation: str, data: Any, returns: type[_Model]) -> _Model:
        try:
            return returns.model_validate(shape_for(returns, data))
        except ValidationError as exc:
            # The service answered, but not in the shape the action promises: retrying won't help.
            raise NonRetryableError(
                f"{self.name} {operation}: the answer does not fit {returns.__name__} "
                f"({exc.error_count()} problems, first: {exc.errors()[0]['msg']})"
            ) from exc

    async def call_raw(
        self,
        operation: str,
        arguments: BaseModel | Mapping[str, Any] | None = None,
        *,
        headers: SoapHeaders | None = None,
    ) -> Any:
        """Like `call`, returning plain data (dicts and lists with Python names) instead of a model."""
        data, _ = await self._invoke(operation, arguments, headers)
        return data

    async def _invoke(
        self,
        operation: str,
        arguments: BaseModel | Mapping[str, Any] | None,
        headers: SoapHeaders | None,
    ) -> tuple[Any, dict[str, Any]]:
        """The answer as plain data, and its SOAP headers."""
        exchange = begin_exchange(operation)
        try:
            await self._ensure_client()  # a no-op unless open() found the WSDL server down
            zeep_operation = find_operation(
                self.document, operation, service=self.settings.service_name, port=self.settings.port_name
            )
            data = arguments.model_dump() if isinstance(arguments, BaseModel) else dict(arguments or {})
            kwargs = to_soap_arguments(data, input_fields(zeep_operation))
            if headers is not None:
                kwargs["_soapheaders"] = headers
            result = await self._service[operation](**kwargs)
        except _CALL_FAILURES as exc:
            finish_exchange(exchange, error=f"{type(exc).__name__}: {exc}"[:300])
            raise soap_error(
                operation,
                exc,
                service=self.name,
                http_status=exchange.http_status,
                retry_after=exchange.retry_after,
                classify=self.classify_fault,
                error_codes=self.error_codes,
                headers=exchange.response_headers,
            ) from exc
        except UnknownOperation as exc:  # a connector bug, or a WSDL from another version
            finish_exchange(exchange, error=str(exc))
            raise NonRetryableError(f"{self.name}: {exc}") from exc
        finish_exchange(exchange)  # usually done by the ingress hook already
        data = from_soap_value(response_content(zeep_operation, result))
        reported = self.answer_error(operation, data)
        if reported is not None:
            raise reported
        return data, exchange.response_headers


def _bind(client: Any, settings: SoapSettings) -> Any:
    """The service proxy for the configured service/port, at `settings.endpoint` if one is set."""
    services = client.wsdl.services
    if not services:
        raise ValueError(f"the WSDL {settings.wsdl!r} declares no service")
    service = services[settings.service_name] if settings.service_name else next(iter(services.values()))
    ports = service.ports
    port = ports[settings.port_name] if settings.port_name else next(iter(ports.values()))
    address = str(settings.endpoint) if settings.endpoint else port.binding_options.get("address")
    if not address:
        raise ValueError(f"the WSDL {settings.wsdl!r} gives no address for {port.name}; set `endpoint`")
    # zeep's AsyncClient.create_service would build a synchronous proxy; build the async one.
    return AsyncServiceProxy(client, port.binding, address=address)  # type: ignore[no-untyped-call]
