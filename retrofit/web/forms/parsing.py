"""From a submitted form to typed JSON values, and to a validated model (server-side).

`parse_form` turns the browser's strings into JSON values, field by field, refusing what the form
did not offer (unknown keys, excluded fields, several values for one input, oversized values).
`validate_form` then validates with the pydantic model and maps each `ValidationError` location
back to the input it came from (`budget.max_steps`), so errors show next to the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from retrofit.web.forms.fields import FormField, Kind

# Key of errors that belong to no one input (a model-level rule, a key the form did not offer).
FORM_ERROR = "__form__"
# No single input takes more than this many characters (the model's own limits are stricter).
MAX_VALUE_CHARS = 100_000
_MAX_NUMBER_CHARS = 64

Model = TypeVar("Model", bound=BaseModel)
FormData = Mapping[str, str | list[str]]


class FormErrors(Exception):
    """Why a form was refused: input name (or FORM_ERROR) -> message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors: dict[str, str] = dict(errors)


def parse_form(
    fields: list[FormField], form: FormData, ignore: Collection[str] = (), refuse: Collection[str] = ()
) -> dict[str, Any]:
    """Typed JSON values for `fields` from `form` (nested by the dotted names). An empty optional
        input is left out (the model's default applies), or None when the field is nullable (an
    input not sent at all is always left out).

        `ignore`: keys the page itself sends (a CSRF token, the submit button). `refuse`: names the
        operator owns (the `exclude` given to `form_fields`); any other key is refused too. Raises
        FormErrors."""
    out, errors = _parse(fields, form, ignore, refuse)
    if errors:
        raise FormErrors(errors)
    return out


def _parse(
    fields: list[FormField], form: FormData, ignore: Collection[str], refuse: Collection[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    known = {field.name: field for field in fields}
    errors: dict[str, str] = {}
    unknown = sorted(key for key in form if key not in known and key not in ignore)
    for key in unknown:
        name = key if key in refuse else FORM_ERROR
        shown = key if len(key) <= 80 else key[:80] + "…"
        message = "set by the operator, not by this form" if key in refuse else f"unknown input {shown!r}"
        errors.setdefault(name, message)
    out: dict[str, Any] = {}
    for field in fields:
        try:
            present, value = _value(field, form.get(field.name))
        except ValueError as error:
            errors[field.name] = str(error)
            continue
        if present:
            _put(out, field.name, value)
    return out, errors


def validate_form(
    model: type[Model],
    fields: list[FormField],
    form: FormData,
    ignore: Collection[str] = (),
    refuse: Collection[str] = (),
) -> Model | FormErrors:
    """The validated model instance, or the FormErrors to show next to the inputs: those of the
    form itself first, then the model's for the other inputs (all shown at once, not one by one)."""
    data, errors = _parse(fields, form, ignore, refuse)
    try:
        instance = model.model_validate(data)
    except ValidationError as error:
        for name, message in errors_by_field(fields, error).items():
            errors.setdefault(name, message)
    else:
        if not errors:
            return instance
    return FormErrors(errors)


def errors_by_field(fields: list[FormField], error: ValidationError) -> dict[str, str]:
    """Each pydantic error under the input its location points into (the longest dotted prefix),
    the first message per input."""
    names = {field.name for field in fields}
    out: dict[str, str] = {}
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        name = FORM_ERROR
        for end in range(len(loc), 0, -1):
            candidate = ".".join(loc[:end])
            if candidate in names:
                name = candidate
                break
        # pydantic's text, except where it shows a regex to a business user.
        message = (
            "not in the expected format" if item["type"] == "string_pattern_mismatch" else str(item["msg"])
        )
        if name == FORM_ERROR and loc:
            message = f"{'.'.join(loc)}: {message}"
        out.setdefault(name, message)
    return out


def _put(out: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = out
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _one(raw: str | list[str] | None) -> str | None:
    if isinstance(raw, list):
        if len(raw) > 1:
            raise ValueError("one value expected")
        raw = raw[0] if raw else None
    if raw is not None and not isinstance(raw, str):
        raise ValueError("not a text value")
    if raw is not None and len(raw) > MAX_VALUE_CHARS:
        raise ValueError(f"too long (over {MAX_VALUE_CHARS} characters)")
    return raw


def _value(field: FormField, raw: str | list[str] | None) -> tuple[bool, Any]:
    """(present, JSON value) of one input."""
    text = _one(raw)
    if field.kind is Kind.CHECKBOX:
        # Browsers send nothing for an unchecked box, `value` (ours: "true") for a checked one.
        if text in (None, ""):
            return True, False
        if text.lower() in ("true", "on", "1", "yes"):
            return True, True
        if text.lower() in ("false", "off", "0", "no"):
            return True, False
        raise ValueError("expected a checkbox value")
    if text is None:
        return False, None  # not sent: the model's default
    if text == "" or (text.strip() == "" and field.kind is not Kind.TEXT):
        if field.nullable and not field.required:
            return True, None
        return False, None
    if field.kind is Kind.TEXT:
        return True, text
    if field.kind in (Kind.INTEGER, Kind.NUMBER):
        return True, _number(field.kind, field.decimal, text)
    if field.kind is Kind.SELECT:
        return True, _choice(field, text)
    if field.kind is Kind.LINES:
        lines = [line.strip() for line in text.splitlines()]
        items = [line for line in lines if line]
        if field.item_kind in (Kind.INTEGER, Kind.NUMBER):
            return True, [_number(field.item_kind, field.decimal, item) for item in items]
        if field.item_kind is Kind.SELECT:
            return True, [_choice(field, item) for item in items]
        return True, items
    return True, _json(text)


def _number(kind: Kind, decimal: bool, text: str) -> int | float | str:
    text = text.strip()
    if len(text) > _MAX_NUMBER_CHARS:
        raise ValueError("number too long")
    if kind is Kind.INTEGER:
        try:
            return int(text)
        except ValueError:
            raise ValueError("enter a whole number") from None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("enter a number") from None
    if not number.is_finite():
        raise ValueError("enter a finite number")
    if decimal:
        return text  # the exact digits typed; pydantic makes the Decimal
    value = float(number)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _choice(field: FormField, text: str) -> Any:
    # The <option value> is the JSON of the choice, so `1` (int) and "1" (str) stay apart.
    for value, _label in field.choices:
        if choice_key(value) == text:
            return value
    raise ValueError("not one of the choices")


def choice_key(value: Any) -> str:
    """The `<option value>` of a choice."""
    return value if isinstance(value, str) else json.dumps(value)


def _json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as error:
        raise ValueError(f"not valid JSON: {error}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
