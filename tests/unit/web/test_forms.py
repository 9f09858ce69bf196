"""Forms from the shipped input models: fields, rendering, parsing and server-side validation,
including hostile submissions."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from retrofit.agent.contracts import AgentTaskInput
from retrofit.web.forms import (
    FORM_ERROR,
    MAX_VALUE_CHARS,
    FormErrors,
    Kind,
    field_id,
    form_fields,
    parse_form,
    render_fields,
    validate_form,
)
from workflows.account_onboarding.models import OnboardingInput
from workflows.credit_limit_review.models import CreditReviewInput
from workflows.overdue_follow_up.models import FollowUpInput
from workflows.single_action.workflow import SingleActionInput

AGENT_EXCLUDE = {"policy", "model", "redact_patterns", "history_limit", "carried", "output_schema"}


class _Elements(HTMLParser):
    """Start tags with their attributes, and the text, of rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def _by_id(html: str) -> dict[str, tuple[str, dict[str, str | None]]]:
    return {str(attrs["id"]): (tag, attrs) for tag, attrs in _parse(html).tags if "id" in attrs}


def _fields(model: type[BaseModel], exclude: set[str] | None = None) -> dict[str, Any]:
    return {f.name: f for f in form_fields(model.model_json_schema(), exclude=exclude or set())}


# --- fields from the shipped models ------------------------------------------------------------


def test_credit_review_decimals_are_numbers_with_any_step() -> None:
    fields = _fields(CreditReviewInput)
    assert list(fields) == ["customer_id", "utilisation_threshold", "increase_percent"]
    threshold = fields["utilisation_threshold"]
    assert (threshold.kind, threshold.decimal, threshold.step) == (Kind.NUMBER, True, "any")
    assert (threshold.exclusive_minimum, threshold.maximum, threshold.default) == (0, 1, "0.80")
    assert fields["customer_id"].required and not threshold.required


def test_credit_review_validates_to_the_model_keeping_decimal_digits() -> None:
    fields = form_fields(CreditReviewInput.model_json_schema())
    got = validate_form(CreditReviewInput, fields, {"customer_id": "C-1001", "increase_percent": "12.345"})
    assert isinstance(got, CreditReviewInput)
    assert got.increase_percent == Decimal("12.345") and got.utilisation_threshold == Decimal("0.80")


def test_credit_review_errors_next_to_the_field() -> None:
    fields = form_fields(CreditReviewInput.model_json_schema())
    got = validate_form(CreditReviewInput, fields, {"customer_id": "", "utilisation_threshold": "0"})
    assert isinstance(got, FormErrors)
    assert got.errors["customer_id"] == "Field required"
    assert got.errors["utilisation_threshold"] == "Input should be greater than 0"


def test_onboarding_description_default_and_lengths() -> None:
    fields = _fields(OnboardingInput)
    assert fields["account_id"].help and "A-2006" in fields["account_id"].help
    note = fields["welcome_note"]
    assert (note.min_length, note.max_length, note.has_default) == (1, 4000, True)
    assert fields["credit_limit"].required and fields["credit_limit"].decimal
    got = validate_form(
        OnboardingInput, list(fields.values()), {"account_id": "A-1", "credit_limit": "10.123"}
    )
    assert isinstance(got, FormErrors) and "credit_limit" in got.errors  # decimal_places=2


def test_follow_up_ints_and_the_dict_as_json() -> None:
    fields = _fields(FollowUpInput)
    assert (fields["max_invoices"].minimum, fields["max_invoices"].maximum) == (1, 20)
    assert fields["warehouse_customers"].kind is Kind.JSON
    got = validate_form(
        FollowUpInput,
        list(fields.values()),
        {"max_invoices": "5", "min_days_overdue": "", "warehouse_customers": '{"C-1": "W-9"}'},
    )
    assert got == FollowUpInput(max_invoices=5, warehouse_customers={"C-1": "W-9"})
    bad = validate_form(
        FollowUpInput, list(fields.values()), {"max_invoices": "21", "warehouse_customers": "{"}
    )
    assert isinstance(bad, FormErrors)
    assert bad.errors["warehouse_customers"].startswith("not valid JSON")


def test_follow_up_json_of_the_wrong_shape_is_refused_by_the_model() -> None:
    fields = form_fields(FollowUpInput.model_json_schema())
    got = validate_form(FollowUpInput, fields, {"warehouse_customers": '{"C-1": {"nested": "<script>"}}'})
    assert isinstance(got, FormErrors) and "string" in got.errors["warehouse_customers"]


def test_single_action_arguments_json() -> None:
    fields = form_fields(SingleActionInput.model_json_schema())
    got = validate_form(
        SingleActionInput, fields, {"action": "erp.get_customer", "arguments": '{"customer_id": "C-1"}'}
    )
    assert got == SingleActionInput(action="erp.get_customer", arguments={"customer_id": "C-1"})
    arr = validate_form(SingleActionInput, fields, {"action": "erp.x", "arguments": "[1, 2]"})
    assert isinstance(arr, FormErrors) and "arguments" in arr.errors


def test_agent_task_nested_budget_lines_and_excluded_fields() -> None:
    fields = _fields(AgentTaskInput, AGENT_EXCLUDE)
    assert list(fields) == [
        "goal",
        "allowed_actions",
        "budget.max_steps",
        "budget.max_tokens",
        "budget.max_cost_usd",
        "budget.max_consecutive_errors",
        "budget.max_tool_calls_per_turn",
    ]
    assert fields["allowed_actions"].kind is Kind.LINES
    assert fields["budget.max_tool_calls_per_turn"].nullable
    assert fields["budget.max_steps"].section == (("budget", "Budget"),)
    form = {
        "goal": "Find overdue invoices",
        "allowed_actions": "erp.*\n\n crm.add_note \n",
        "budget.max_steps": "7",
    }
    got = validate_form(AgentTaskInput, list(fields.values()), form)
    assert isinstance(got, AgentTaskInput)
    assert got.allowed_actions == ["erp.*", "crm.add_note"]
    assert (got.budget.max_steps, got.budget.max_tool_calls_per_turn, got.policy) == (7, None, None)


def test_agent_task_error_locations_map_to_dotted_and_list_names() -> None:
    fields = form_fields(AgentTaskInput.model_json_schema(), exclude=AGENT_EXCLUDE)
    got = validate_form(
        AgentTaskInput, fields, {"goal": "x", "allowed_actions": "not an action", "budget.max_steps": "501"}
    )
    assert isinstance(got, FormErrors)
    assert got.errors["budget.max_steps"] == "Input should be less than or equal to 500"
    assert "not an action name" in got.errors["allowed_actions"]


def test_an_excluded_field_supplied_is_refused() -> None:
    fields = form_fields(AgentTaskInput.model_json_schema(), exclude=AGENT_EXCLUDE)
    form = {"goal": "x", "allowed_actions": "erp.*", "policy": "{}", "model.endpoint": "http://evil"}
    got = validate_form(AgentTaskInput, fields, form, refuse=AGENT_EXCLUDE)
    assert isinstance(got, FormErrors)
    assert got.errors["policy"] == "set by the operator, not by this form"
    assert "model.endpoint" in got.errors[FORM_ERROR]  # unknown: refused too, never passed through


def test_unknown_and_proto_keys_are_refused_but_the_pages_own_keys_ignored() -> None:
    fields = form_fields(CreditReviewInput.model_json_schema())
    for key in ("__proto__", "constructor.prototype", "customer_id.__class__", "__form__"):
        got = validate_form(CreditReviewInput, fields, {"customer_id": "C-1", key: "1"})
        assert isinstance(got, FormErrors) and FORM_ERROR in got.errors, key
    ok = validate_form(CreditReviewInput, fields, {"customer_id": "C-1", "csrf": "t"}, ignore={"csrf"})
    assert isinstance(ok, CreditReviewInput)


def test_proto_keys_inside_json_stay_plain_data() -> None:
    fields = form_fields(SingleActionInput.model_json_schema())
    got = validate_form(SingleActionInput, fields, {"action": "a.b", "arguments": '{"__proto__": {"x": 1}}'})
    assert isinstance(got, SingleActionInput) and got.arguments == {"__proto__": {"x": 1}}


@pytest.mark.parametrize(
    ("form", "name", "message"),
    [
        ({"customer_id": ["C-1", "C-2"]}, "customer_id", "one value expected"),
        ({"customer_id": "C-1", "increase_percent": ["1", "2"]}, "increase_percent", "one value expected"),
        ({"customer_id": "x" * (MAX_VALUE_CHARS + 1)}, "customer_id", "too long"),
        ({"customer_id": "C", "increase_percent": "9" * 5000}, "increase_percent", "number too long"),
        ({"customer_id": "C", "increase_percent": "NaN"}, "increase_percent", "finite"),
        ({"customer_id": "C", "increase_percent": "Infinity"}, "increase_percent", "finite"),
        ({"customer_id": "C", "increase_percent": "1e999999"}, "increase_percent", ""),
        ({"customer_id": "C", "increase_percent": "twenty"}, "increase_percent", "enter a number"),
    ],
)
def test_hostile_scalars(form: dict[str, Any], name: str, message: str) -> None:
    fields = form_fields(CreditReviewInput.model_json_schema())
    got = validate_form(CreditReviewInput, fields, form)
    assert isinstance(got, FormErrors), got
    assert message in got.errors[name]


def test_hostile_integers_and_deep_json() -> None:
    fields = form_fields(FollowUpInput.model_json_schema())
    for value, message in (("1.5", "whole number"), ("9" * 70, "too long"), ("0x10", "whole number")):
        got = validate_form(FollowUpInput, fields, {"max_invoices": value})
        assert isinstance(got, FormErrors) and message in got.errors["max_invoices"]
    deep = "[" * 50_000 + "]" * 50_000
    got = validate_form(FollowUpInput, fields, {"warehouse_customers": deep})
    assert isinstance(got, FormErrors) and "warehouse_customers" in got.errors
    nan = validate_form(FollowUpInput, fields, {"warehouse_customers": '{"a": NaN}'})
    assert isinstance(nan, FormErrors) and "NaN" in nan.errors["warehouse_customers"]


class _Kinds(BaseModel):
    when: str = Field(json_schema_extra={"format": "date"})
    email: str = Field(default="", json_schema_extra={"format": "email"})
    code: str = Field(default="AB-1", pattern=r"^[A-Z]{2}-\d+$", max_length=10)
    colour: Literal["red", "green"] = "red"
    level: Literal[1, 2, 3] = 2
    urgent: bool = False
    confirmed: bool | None = None
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    sizes: list[int] = Field(default_factory=list)
    ratio: float = Field(default=0.5, gt=0, lt=1, multiple_of=0.25)


def test_every_kind_of_field() -> None:
    fields = _fields(_Kinds)
    assert fields["when"].input_type == "date" and fields["email"].input_type == "email"
    assert fields["colour"].kind is Kind.SELECT and fields["level"].choices == ((1, "1"), (2, "2"), (3, "3"))
    assert fields["urgent"].kind is Kind.CHECKBOX and fields["confirmed"].kind is Kind.SELECT
    assert fields["tags"].kind is Kind.LINES and fields["sizes"].item_kind is Kind.INTEGER
    assert fields["ratio"].step == "0.25"
    form = {
        "when": "2026-12-07",
        "level": "3",
        "urgent": "true",
        "confirmed": "false",
        "note": "",
        "sizes": "1\n2",
    }
    got = validate_form(_Kinds, list(fields.values()), form)
    assert isinstance(got, _Kinds), got
    assert (got.level, got.urgent, got.confirmed, got.note, got.sizes) == (3, True, False, None, [1, 2])
    unchecked = validate_form(_Kinds, list(fields.values()), {"when": "2026-12-07"})
    assert isinstance(unchecked, _Kinds) and unchecked.urgent is False and unchecked.confirmed is None
    bad = validate_form(
        _Kinds, list(fields.values()), {"when": "d", "colour": "blue", "code": "ab", "ratio": "0.3"}
    )
    assert isinstance(bad, FormErrors)
    assert set(bad.errors) == {"colour", "code", "ratio"}  # `when` is a plain str to the model


def test_parse_form_types_values() -> None:
    fields = form_fields(_Kinds.model_json_schema())
    parsed = parse_form(fields, {"when": "2026-01-01", "level": "1", "tags": "a\nb", "ratio": "0.25"})
    assert parsed == {"when": "2026-01-01", "level": 1, "urgent": False, "tags": ["a", "b"], "ratio": 0.25}
    with pytest.raises(FormErrors):
        parse_form(fields, {"level": "4"})


# --- rendering ---------------------------------------------------------------------------------


def test_every_input_has_a_label_and_its_help_is_linked() -> None:
    for model in (
        CreditReviewInput,
        OnboardingInput,
        FollowUpInput,
        SingleActionInput,
        AgentTaskInput,
        _Kinds,
    ):
        fields = form_fields(model.model_json_schema(), exclude={"carried"})
        html = str(render_fields(fields, {}, {}))
        elements = _parse(html)
        labels = {attrs["for"] for tag, attrs in elements.tags if tag == "label"}
        ids = _by_id(html)
        for field in fields:
            tag, attrs = ids[field_id(field.name)]
            assert tag in ("input", "select", "textarea") and attrs["name"] == field.name
            assert field_id(field.name) in labels, field.name
            for described in (attrs.get("aria-describedby") or "").split():
                assert described in ids, (field.name, described)
            if field.help:
                assert f"{field_id(field.name)}-help" in (attrs.get("aria-describedby") or "")


def test_constraint_attributes() -> None:
    html = str(render_fields(form_fields(_Kinds.model_json_schema()), {}, {}))
    ids = _by_id(html)
    _, code = ids["f-code"]
    assert (code["pattern"], code["maxlength"]) == (r"[A-Z]{2}-\d+", "10")
    _, ratio = ids["f-ratio"]
    assert (ratio["type"], ratio["min"], ratio["max"], ratio["step"]) == ("number", "0", "1", "0.25")
    _, when = ids["f-when"]
    assert when["type"] == "date" and "required" in when
    credit = _by_id(str(render_fields(form_fields(AgentTaskInput.model_json_schema()), {}, {})))
    _, steps = credit["f-budget--max_steps"]
    assert (steps["min"], steps["max"], steps["step"], steps["value"]) == ("1", "500", "1", "12")
    assert 'fieldset id="f-budget"' in str(render_fields(form_fields(AgentTaskInput.model_json_schema())))


def test_errors_are_next_to_the_field_and_linked() -> None:
    fields = form_fields(AgentTaskInput.model_json_schema(), exclude=AGENT_EXCLUDE)
    html = str(
        render_fields(
            fields,
            {"goal": "g", "budget.max_steps": "501"},
            {
                "budget.max_steps": "Input should be less than or equal to 500",
                FORM_ERROR: "unknown input 'x'",
            },
        )
    )
    ids = _by_id(html)
    _, steps = ids["f-budget--max_steps"]
    assert steps["aria-invalid"] == "true" and steps["value"] == "501"
    assert "f-budget--max_steps-error" in str(steps["aria-describedby"])
    assert ids["f-budget--max_steps-error"][0] == "p"
    assert ids["form-error"][1]["role"] == "alert"
    assert "aria-invalid" not in ids["f-goal"][1]


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class _Hostile(BaseModel):
    name: str = Field(default=HOSTILE, title=HOSTILE, description=HOSTILE, pattern=HOSTILE)
    pick: Literal['a"><script>x</script>', "b"] = "b"
    data: dict[str, Any] = Field(default_factory=lambda: {"k": "</textarea><script>y</script>"})


def test_hostile_schema_text_and_values_are_escaped() -> None:
    fields = form_fields(_Hostile.model_json_schema())
    for values, errors in (
        ({}, {}),
        ({"name": HOSTILE, "data": HOSTILE}, {"name": HOSTILE, FORM_ERROR: HOSTILE}),
    ):
        html = str(render_fields(fields, values, errors))
        assert "<script" not in html and "<img" not in html and "</textarea><" not in html
        tags = [tag for tag, _ in _parse(html).tags]
        assert "script" not in tags and "img" not in tags
        assert _by_id(html)["f-name"][1]["value"] == HOSTILE  # shown as text, intact
    hostile_key = form_fields({"properties": {'x"><script>z</script>': {"type": "string"}}, "type": "object"})
    html = str(render_fields(hostile_key, {}, {}))
    assert "<script" not in html and 'id="f-x--' in html


def test_errors_for_inputs_not_on_the_page_are_shown_at_the_top() -> None:
    fields = form_fields(AgentTaskInput.model_json_schema(), exclude=AGENT_EXCLUDE)
    got = validate_form(
        AgentTaskInput,
        fields,
        {"goal": "g", "allowed_actions": "erp.*", "policy": "{}"},
        refuse=AGENT_EXCLUDE,
    )
    assert isinstance(got, FormErrors)
    html = str(render_fields(fields, {}, got.errors))
    top = html[html.index('id="form-error"') : html.index("</div>")]
    assert "policy: set by the operator, not by this form" in top


def test_a_submitted_unchecked_box_stays_unchecked() -> None:
    class Flags(BaseModel):
        notify: bool = True

    fields = form_fields(Flags.model_json_schema())
    assert "checked" in _by_id(str(render_fields(fields)))["f-notify"][1]
    assert "checked" not in _by_id(str(render_fields(fields, {}, {}, submitted=True)))["f-notify"][1]
    assert validate_form(Flags, fields, {}) == Flags(notify=False)


class _Tree(BaseModel):
    label: str
    child: _Tree
    children: list[_Tree] = Field(default_factory=list)


def test_a_recursive_model_ends_in_a_json_field() -> None:
    fields = _fields(_Tree)
    assert "child.child.child.child.label" in fields
    assert fields["child.child.child.child.child"].kind is Kind.JSON
    assert fields["children"].kind is Kind.JSON
    form = {"label": "a", "child.label": "b", "child.child.label": "c", "child.child.child.label": "d"}
    form |= {
        "child.child.child.child.label": "e",
        "child.child.child.child.child": '{"label": "f", "child": null}',
    }
    got = validate_form(_Tree, list(fields.values()), form)
    assert isinstance(got, FormErrors)
    assert "child.child.child.child.child" in got.errors  # null is not a _Tree: refused, by field


def test_dotted_property_names_are_refused() -> None:
    with pytest.raises(ValueError, match="dots are paths"):
        form_fields({"type": "object", "properties": {"a.b": {"type": "string"}}})
