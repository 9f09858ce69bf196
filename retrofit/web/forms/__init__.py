"""Forms from a pydantic input model's JSON Schema: the business user's way in, no JSON typed.

    fields = form_fields(Model.model_json_schema(), exclude={"policy"})
    html = render_fields(fields, values=submitted_or_empty, errors=errors)   # Markup
    outcome = validate_form(Model, fields, request_form, ignore={"csrf"}, refuse={"policy"})
    if isinstance(outcome, FormErrors): re-render with outcome.errors
    else: start the workflow with `outcome` (a Model instance)

`parse_form` alone gives the typed JSON values. Names are dotted (`budget.max_steps`); errors are
keyed by those names, FORM_ERROR for what belongs to no one input.
"""

from retrofit.web.forms.fields import FormField, Kind, form_fields, humanise
from retrofit.web.forms.parsing import FORM_ERROR, MAX_VALUE_CHARS, FormErrors, parse_form, validate_form
from retrofit.web.forms.rendering import field_id, render_fields

__all__ = [
    "FORM_ERROR",
    "MAX_VALUE_CHARS",
    "FormErrors",
    "FormField",
    "Kind",
    "field_id",
    "form_fields",
    "humanise",
    "parse_form",
    "render_fields",
    "validate_form",
]
