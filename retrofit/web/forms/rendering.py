"""Accessible, autoescaped HTML for `FormField`s.

Every input has a `<label for>`; help and errors are linked with `aria-describedby`, an invalid
input has `aria-invalid="true"`. The HTML5 constraint attributes (`required`, `min`, `max`,
`step`, `pattern`, `minlength`, `maxlength`, `type`) give browser-side validation; the server
validates again (`validate_form`). All text comes from schemas, defaults and what the user typed,
so everything is escaped by Jinja2's autoescape: nothing here is trusted markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from retrofit.web.forms.fields import FormField, Kind
from retrofit.web.forms.parsing import FORM_ERROR, choice_key

_ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

_TEMPLATE = _ENV.from_string(
    """\
{% if form_errors %}
<div class="form-error" role="alert" id="form-error">{% for message in form_errors %}<p>{{ message }}</p>{% endfor %}</div>
{% endif %}
{% for item in items %}
{% if item.open %}<fieldset id="{{ item.id }}"><legend>{{ item.legend }}</legend>
{% elif item.close %}</fieldset>
{% else %}{% set f = item.field %}
<div class="field{% if item.error %} field-invalid{% endif %}">
{% if f.kind == "checkbox" %}
<input type="checkbox" id="{{ item.id }}" name="{{ f.name }}" value="true"{% if item.checked %} checked{% endif %}{{ item.aria }}>
<label for="{{ item.id }}">{{ f.label }}</label>
{% else %}
<label for="{{ item.id }}">{{ f.label }}{% if f.required %} <span class="required" aria-hidden="true">*</span>{% endif %}</label>
{% if f.kind == "select" %}
<select id="{{ item.id }}" name="{{ f.name }}"{% if f.required %} required{% endif %}{{ item.aria }}>
{% if f.nullable or item.value == "" %}<option value=""{% if item.value == "" %} selected{% endif %}>{% if f.required %}Choose…{% else %}(none){% endif %}</option>
{% endif %}
{% for key, text in item.options %}<option value="{{ key }}"{% if key == item.value %} selected{% endif %}>{{ text }}</option>
{% endfor %}
</select>
{% elif f.kind in ("lines", "json") %}
<textarea id="{{ item.id }}" name="{{ f.name }}" rows="{{ 6 if f.kind == 'json' else 4 }}"{% if f.required %} required{% endif %}{% if f.kind == 'json' %} spellcheck="false" class="json"{% endif %}{{ item.aria }}>{{ item.value }}</textarea>
{% else %}
<input type="{{ f.input_type }}" id="{{ item.id }}" name="{{ f.name }}" value="{{ item.value }}"
{%- for attr, val in item.attrs %} {{ attr }}="{{ val }}"{% endfor %}
{%- if f.required %} required{% endif %}{{ item.aria }}>
{% endif %}
{% endif %}
{% if f.help or item.hint %}<p class="help" id="{{ item.id }}-help">{% if f.help %}{{ f.help }}{% endif %}{% if f.help and item.hint %} {% endif %}{% if item.hint %}<span class="hint">{{ item.hint }}</span>{% endif %}</p>
{% endif %}
{% if item.error %}<p class="error" id="{{ item.id }}-error">{{ item.error }}</p>
{% endif %}
</div>
{% endif %}
{% endfor %}
"""
)


def field_id(name: str) -> str:
    """The element id of an input (`budget.max_steps` -> `f-budget--max_steps`)."""
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", name.replace(".", "--"))


def render_fields(
    fields: list[FormField],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    *,
    submitted: bool = False,
) -> Markup:
    """The inputs (not the `<form>`; the page owns it, its action and its CSRF token). `values`:
    what to show, by input name: the submitted form (strings, to show what was typed) or JSON
    values; an input without one shows its default, except a checkbox of a `submitted` form
    (browsers send nothing for an unchecked box). `errors`: input name (or FORM_ERROR) ->
    message, shown next to the input; errors for names with no input here (an excluded field a
    client sent anyway) are shown with the form's own error at the top."""
    values = values or {}
    if submitted:
        unchecked = {f.name: "" for f in fields if f.kind is Kind.CHECKBOX and f.name not in values}
        values = {**values, **unchecked}
    errors = errors or {}
    names = {field.name for field in fields}
    top = [errors[FORM_ERROR]] if FORM_ERROR in errors else []
    top += [
        f"{name}: {message}" for name, message in errors.items() if name != FORM_ERROR and name not in names
    ]
    items: list[dict[str, Any]] = []
    open_sections: list[str] = []
    for field in fields:
        wanted = [prefix for prefix, _ in field.section]
        while open_sections and open_sections != wanted[: len(open_sections)]:
            open_sections.pop()
            items.append({"close": True, "open": False})
        for prefix, legend in field.section[len(open_sections) :]:
            open_sections.append(prefix)
            items.append({"open": True, "close": False, "id": field_id(prefix), "legend": legend})
        items.append(_item(field, values, errors))
    items.extend({"close": True, "open": False} for _ in open_sections)
    return Markup(_TEMPLATE.render(items=items, form_errors=top))


def _item(field: FormField, values: Mapping[str, Any], errors: Mapping[str, str]) -> dict[str, Any]:
    ident = field_id(field.name)
    error = errors.get(field.name)
    hint = _hint(field)
    described = [f"{ident}-help"] if field.help or hint else []
    if error:
        described.append(f"{ident}-error")
    aria = ""
    if described:
        aria += f' aria-describedby="{" ".join(described)}"'  # ids are [A-Za-z0-9_-] only
    if error:
        aria += ' aria-invalid="true"'
    if field.name in values:
        shown: Any = values[field.name]
        if isinstance(shown, list) and field.kind is not Kind.LINES:
            shown = shown[0] if len(shown) == 1 else ""
    else:
        shown = field.default if field.has_default else None
    return {
        "open": False,
        "close": False,
        "field": field,
        "id": ident,
        "error": error,
        "hint": hint,
        "aria": Markup(aria),
        "value": _shown(field, shown),
        "checked": _checked(shown),
        "attrs": _attrs(field),
        "options": [(choice_key(value), label) for value, label in field.choices],
    }


def _shown(field: FormField, value: Any) -> str:
    if value is None:
        return ""
    if field.kind is Kind.LINES:
        if isinstance(value, list):
            return "\n".join(v if isinstance(v, str) else json.dumps(v) for v in value)
        return str(value)
    if field.kind is Kind.JSON:
        return value if isinstance(value, str) else json.dumps(value, indent=2)
    if field.kind is Kind.SELECT:
        return choice_key(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _checked(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "on", "1", "yes")
    return value is True


def _attrs(field: FormField) -> list[tuple[str, str]]:
    attrs: list[tuple[str, str]] = []
    if field.kind in (Kind.INTEGER, Kind.NUMBER):
        low = field.minimum if field.minimum is not None else field.exclusive_minimum
        high = field.maximum if field.maximum is not None else field.exclusive_maximum
        if low is not None:
            attrs.append(("min", _num(low)))
        if high is not None:
            attrs.append(("max", _num(high)))
        # A decimal's exclusive bound (`gt=0`) still allows fractions above it in the browser.
        step = "any" if field.decimal and field.multiple_of is None else field.step
        if step:
            attrs.append(("step", step))
        attrs.append(("inputmode", "numeric" if field.kind is Kind.INTEGER else "decimal"))
    if field.kind is Kind.TEXT:
        if field.min_length is not None:
            attrs.append(("minlength", str(field.min_length)))
        if field.max_length is not None:
            attrs.append(("maxlength", str(field.max_length)))
        if field.pattern:
            attrs.append(("pattern", html_pattern(field.pattern)))
    return attrs


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def html_pattern(pattern: str) -> str:
    """A JSON Schema pattern (a search) as an HTML `pattern` (matched against the whole value)."""
    if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[1:-1]
    return f".*(?:{pattern}).*"


def _hint(field: FormField) -> str | None:
    """The allowed range said before anyone types (the browser only says it after a wrong
    value, and cannot say exclusive bounds at all), one-per-line, JSON."""
    parts: list[str] = []
    if field.exclusive_minimum is not None:
        parts.append(f"more than {_num(field.exclusive_minimum)}")
    elif field.minimum is not None:
        parts.append(f"at least {_num(field.minimum)}")
    if field.exclusive_maximum is not None:
        parts.append(f"less than {_num(field.exclusive_maximum)}")
    elif field.maximum is not None:
        parts.append(f"at most {_num(field.maximum)}")
    if field.kind is Kind.LINES:
        parts.append("one per line")
    if field.kind is Kind.JSON:
        parts.append("JSON")
    if field.nullable and not field.required and field.kind is not Kind.SELECT:
        parts.append("leave empty for none")
    return "; ".join(parts).capitalize() if parts else None
