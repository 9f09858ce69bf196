"""Turning response bodies into the connector's pydantic models, with errors that say where."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from connectors.rest.body_excerpt import excerpt_response
from retrofit.sdk import NonRetryableError

M = TypeVar("M", bound=BaseModel)


def exchange_name(response: httpx.Response, system: str = "") -> str:
    """`crm GET /accounts/A-1`: how messages name an exchange (built only when one is needed)."""
    return f"{system} {response.request.method} {response.request.url.path}".lstrip()


def decode_response(model: type[M], response: httpx.Response, *, system: str = "") -> M:
    """The body of a successful response as `model`.

    A 2xx body that does not fit means the two sides disagree on the contract; a retry would get
    the same body, so this is not retryable. Only field locations and messages are quoted, never
    the offending values (they may be anything, secrets included).
    """
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise NonRetryableError(
            f"{exchange_name(response, system)} answered {response.status_code} "
            f"with a body that is not a {model.__name__}: "
            f"{_where(exc)}",
            details=excerpt_response(response),
        ) from exc


def json_body(response: httpx.Response, *, system: str = "") -> Any:
    """The parsed JSON body of a successful response; a 2xx that is not JSON breaks the contract."""
    try:
        return response.json()
    except ValueError as exc:
        raise NonRetryableError(
            f"{exchange_name(response, system)} answered {response.status_code} with a body that is not JSON",
            details=excerpt_response(response),
        ) from exc


def validate_item(model: type[M], raw: Any, *, source: str) -> M:
    """One element of a list body as `model`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise NonRetryableError(
            f"{source} listed an item that is not a {model.__name__}: {_where(exc)}"
        ) from exc


def _where(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors()[:5]
    )
