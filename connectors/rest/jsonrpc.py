"""JSON-RPC over the REST base: systems that answer every call with HTTP 200, errors included.

Tryton, Odoo and many in-house systems take every call as `POST` to one path and report failures
inside a 200 answer, in an `error` member. `JsonRpcConnector` sends the call, names the RPC method
in the audit record and in error messages (not just `POST /rpc`), and maps the `error` member to
typed errors:

    class Tryton(JsonRpcConnector):
        '''Tryton ERP over JSON-RPC.'''
        name = "tryton"
        Settings = TrytonSettings
        jsonrpc_version = None                     # Tryton sends no "jsonrpc" member

        def __init__(
        self, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(settings, transport=transport)
        # Per connector instance: ids only need to tell this connector's calls apart.
        self._rpc_ids = itertools.count(1)

    def rpc_path(self, method: str) -> str:
            return f"/{self.settings.database}/"

        @action(effect=Effect.READ)
        async def get_party(self, req: GetParty) -> Party:
            '''One party by id.'''
            (party,) = await self.rpc("model.party.party.read", [[req.id], ["name"], {}], expect=list[Party])
            return party

The `error` member comes in three shapes, all read by `rpc_error`:

    JSON-RPC 2.0 / 1.1   {"code": -32602, "message": "Invalid params", "data": ...}
    Odoo                 {"code": 200, "message": "Odoo Server Error",
                          "data": {"name": "odoo.exceptions.ValidationError", "message": "...", "debug": ...}}
    Tryton               ["UserError", ["The party must have a name.", ""]]

and becomes (after the connector's `classify_rpc_error` and `error_codes`):

    error                                                   Retrofit error
    ------------------------------------------------------  -----------------
    a name saying access/login/session (AccessError,        AuthError
      AccessDenied, LoginException, SessionExpired...)
    a name saying transient (DatabaseOperationalError,      RetryableError
      RateLimit, TooManyRequests, Timeout, ...); -32603
      (internal error) and -32000..-32099 (server errors)
      without a name
    a name saying the input is wrong (UserError,            ActionInputError
      ValidationError, UserWarning, MissingError, ...);
      -32602 (invalid params)
    -32700, -32600, -32601 (the call itself is malformed,   NonRetryableError
      or the method does not exist: a connector bug)
    anything else (a server bug: TypeError, KeyError...)    NonRetryableError

HTTP errors (a 401, a 429, a 502 from a proxy) map as for any REST call, with the method named.
Messages and details are redacted excerpts, with the connector's secret values masked (a server
may echo them); Odoo's `data.debug` traceback is never quoted in them. The audit record names
each exchange's method (`"operation"`) and masks the same secrets in its body excerpts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from connectors.rest.body_excerpt import excerpt_payload, redact_text, truncate
from connectors.rest.connector import RestConnector
from retrofit.redaction import REDACTED
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    ConnectorSettings,
    Delivery,
    NonRetryableError,
    RetrofitError,
    RetryableError,
)

T = TypeVar("T")

#: What a connector's `error_codes` table maps an error name or code to.
RpcErrorKind = type[RetrofitError]

_MESSAGE_LIMIT = 200

# Matched against the last dotted part of an error name ("odoo.exceptions.AccessError" ->
# "AccessError"), case-insensitively. Auth first: "AccessDenied" is not an input error.
_AUTH_NAMES = re.compile(r"access|denied|login|logged|session|auth|permission|forbidden|credential", re.I)
_TRANSIENT_NAMES = re.compile(
    r"operationalerror|ratelimit|toomanyrequests|timeout|unavailable|locknotavailable|serialization|deadlock",
    re.I,
)
_INPUT_NAMES = re.compile(
    r"user(error|warning)|validation|missing|notfound|invalid|required|domain|value", re.I
)

_JSONRPC_INPUT_CODES = frozenset({-32602})
_JSONRPC_CONTRACT_CODES = frozenset({-32700, -32600, -32601})


@dataclass(frozen=True)
class RpcError:
    """An `error` member, read: what `classify_rpc_error` sees and messages quote."""

    method: str  # the RPC method (or the operation the connector named)
    code: int | None = None  # JSON-RPC code, when there is one
    name: str | None = None  # the server's exception name (Tryton, Odoo's data.name)
    message: str = ""  # an excerpt, redacted
    data: Any = None  # the raw `data` (JSON-RPC) or arguments (Tryton); never quoted whole

    @property
    def short_name(self) -> str | None:
        """The last dotted part of `name`: "odoo.exceptions.AccessError" -> "AccessError"."""
        return None if self.name is None else self.name.rsplit(".", 1)[-1]

    def summary(self) -> str:
        label = self.short_name or (f"error {self.code}" if self.code is not None else "error")
        return f"{label}: {self.message}" if self.message else label


def rpc_error(method: str, error: Any) -> RpcError:
    """An `error` member in any of the three shapes (module docstring) as an `RpcError`."""
    if isinstance(error, Mapping):
        code = error.get("code")
        data = error.get("data")
        name = None
        message = error.get("message")
        if isinstance(data, Mapping):
            # Odoo: the useful part is data.name / data.message; "Odoo Server Error" says nothing.
            name = _name(data.get("name") or data.get("exception_type"))
            message = data.get("message") or message
        elif isinstance(data, str) and data:
            message = f"{message}: {data}" if message else data
        return RpcError(
            method,
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            name,
            _excerpt(message),
            data,
        )
    if isinstance(error, list | tuple) and error:
        # Tryton: [exception name, args]; args is a list of strings (message, description, ...).
        name = _name(error[0])
        args = error[1] if len(error) > 1 else None
        if isinstance(args, list | tuple):
            parts = [a for a in args if isinstance(a, str) and a.strip()]
            message = " ".join(parts[:2])
        else:
            message = _text(args)
        return RpcError(method, None, name, _excerpt(message), args)
    return RpcError(method, None, None, _excerpt(error), error)


def default_rpc_kind(error: RpcError) -> RpcErrorKind:
    """The Retrofit error class for an `RpcError`, by its name first, then its code."""
    name = error.short_name
    if name:
        if _AUTH_NAMES.search(name):
            return AuthError
        if _TRANSIENT_NAMES.search(name):
            return RetryableError
        if _INPUT_NAMES.search(name):
            return ActionInputError
        return NonRetryableError  # a named exception we do not know: most likely a server bug
    code = error.code
    if code in _JSONRPC_INPUT_CODES:
        return ActionInputError
    if code in _JSONRPC_CONTRACT_CODES:
        return NonRetryableError
    if code == -32603 or (code is not None and -32099 <= code <= -32000):
        return RetryableError
    return NonRetryableError


class JsonRpcConnector(RestConnector):
    """Base of connectors to JSON-RPC systems; actions call `rpc()` (see the module docstring)."""

    #: The "jsonrpc" member sent with every call; None for servers that want none (Tryton, 1.0).
    jsonrpc_version: ClassVar[str | None] = "2.0"
    #: Error names ("UserError", "odoo.exceptions.AccessError") or codes ("-32001") -> error class,
    #: before the defaults. Names match the full or the last dotted part, without case.
    error_codes: ClassVar[Mapping[str, RpcErrorKind]] = {}

    def __init__(
        self, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(settings, transport=transport)
        # Per connector instance: ids only need to tell this connector's calls apart.
        self._rpc_ids = itertools.count(1)

    def rpc_path(self, method: str) -> str:
        """Where a call of `method` is POSTed, relative to the base URL (default: the base URL)."""
        return ""

    def classify_rpc_error(self, error: RpcError) -> RetrofitError | RpcErrorKind | None:
        """What an `error` member means, when `error_codes` cannot say (None: the defaults)."""
        return None

    def rpc_body(self, method: str, params: Any, call_id: int) -> dict[str, Any]:
        """The request body; override for servers with another envelope."""
        body: dict[str, Any] = {"method": method, "params": [] if params is None else params, "id": call_id}
        if self.jsonrpc_version is not None:
            body = {"jsonrpc": self.jsonrpc_version, **body}
        return body

    async def rpc(
        self,
        method: str,
        params: Any = None,
        *,
        expect: type[T],
        operation: str | None = None,
        idempotent: bool = False,
    ) -> T:
        """Call `method` with `params`; its `result` as `expect` (a model, `list[Model]`, `int`...).

        `operation` names the call in the audit record and in messages when `method` does not say
        what it does (Odoo: every call is "call"; pass "res.partner.create"). `idempotent=True`
        sends the running call's idempotency key as for any REST write.
        """
        result = await self.rpc_raw(method, params, operation=operation, idempotent=idempotent)
        try:
            return TypeAdapter(expect).validate_python(result)
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'result'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise NonRetryableError(
                f"{self.name} {operation or method}: the result does not fit {_type_name(expect)}: {where}",
                delivery=Delivery.ANSWERED,
            ) from exc

    async def rpc_raw(
        self,
        method: str,
        params: Any = None,
        *,
        operation: str | None = None,
        idempotent: bool = False,
    ) -> Any:
        """Like `rpc`, returning the `result` as parsed JSON."""
        label = operation or method
        call_id = next(self._rpc_ids)
        response = await self.request(
            "POST",
            self.rpc_path(method),
            json=self.rpc_body(method, params, call_id),
            idempotent=idempotent,
            operation=label,
        )
        return self.rpc_result(label, response, call_id)

    def rpc_result(self, label: str, response: httpx.Response, call_id: int | None = None) -> Any:
        """The `result` of a 2xx JSON-RPC answer, or the typed error its `error` member says."""
        where = f"{self.name} {label}"
        try:
            body = response.json()
        except ValueError:
            raise NonRetryableError(
                f"{where} answered {response.status_code} with a body that is not JSON-RPC",
                delivery=Delivery.UNKNOWN,  # a proxy page, say: whether the call ran is not known
            ) from None
        if not isinstance(body, Mapping):
            raise NonRetryableError(
                f"{where} answered a JSON {type(body).__name__}, not a JSON-RPC response object",
                delivery=Delivery.UNKNOWN,
            )
        answered_id = body.get("id")
        # Compared as text: some servers echo a numeric id as a string.
        if call_id is not None and answered_id is not None and str(answered_id) != str(call_id):
            raise NonRetryableError(
                f"{where}: the answer is for call {truncate(str(answered_id), 40)!r}, not {call_id}",
                delivery=Delivery.UNKNOWN,
            )
        error = body.get("error")
        if error is not None:
            raise self._rpc_failure(rpc_error(label, error))
        if "result" not in body:
            raise NonRetryableError(
                f"{where} answered without a result or an error", delivery=Delivery.UNKNOWN
            )
        return body["result"]

    def _rpc_failure(self, error: RpcError) -> RetrofitError:
        # A server may echo what it was sent (the password of Odoo's execute_kw among it).
        error = replace(error, message=self._masked(error.message))
        decided = self.classify_rpc_error(error)
        if isinstance(decided, RetrofitError):
            return decided
        kind = decided or self._by_table(error) or default_rpc_kind(error)
        text = f"{self.name} {error.method}: {error.summary()}"
        # Odoo's data.debug is a server traceback: it stays out of the details.
        shown = error.data is not None and not _has_debug(error.data)
        details = (self._masked(excerpt_payload(error.data)) if shown else None) or error.message or None
        if issubclass(kind, RetryableError):
            # The server answered: its error says the call did not do what was asked.
            return kind(text, details=details, delivery=Delivery.ANSWERED)
        return kind(text, details=details)

    def _masked(self, text: str) -> str:
        for secret in self.secret_values:
            text = text.replace(secret, REDACTED)
        return text

    def _by_table(self, error: RpcError) -> RpcErrorKind | None:
        keys = {k for k in (error.name, error.short_name) if k}
        keys = {k.lower() for k in keys}
        if error.code is not None:
            keys.add(str(error.code))
        for key, kind in self.error_codes.items():
            if key.lower() in keys:
                return kind
        return None


def _has_debug(data: Any) -> bool:
    return isinstance(data, Mapping) and "debug" in data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _name(value: Any) -> str | None:
    # An exception name is an identifier; anything long is not one, and is cut like a message.
    return truncate(" ".join(_text(value).split()), 100) or None


def _excerpt(value: Any) -> str:
    return truncate(" ".join(redact_text(_text(value)).split()), _MESSAGE_LIMIT)


def _type_name(expect: Any) -> str:
    return getattr(expect, "__name__", None) or str(expect)
