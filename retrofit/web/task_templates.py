"""Agent task templates: the operator's named goals whose blanks a business user fills in.

The operator writes them in a TOML file (`RETROFIT_TASK_TEMPLATES_FILE`; the demo's is
`retrofit/embedded/task-templates.toml`):

    [[template]]
    name = "collections-notes"
    title = "Collections notes for the largest overdue invoices"
    description = "..."
    goal = "Find the {count} customers with the largest overdue invoices and log a note ..."
    allowed_actions = ["erp.list_invoices", "crm.add_note"]
    model = "primary"                   # an endpoint NAME from the operator's RETROFIT_LLM_* settings
    budget = { max_steps = 8 }          # optional: retrofit.agent.contracts.Budget
    # policy = { by_action = { "crm.add_note" = { outcome = "require_approval" } } }  # optional
    # output_schema = { type = "object", ... }                                         # optional

    [template.blanks.count]
    type = "integer"                    # string | integer | number | enum
    label = "How many customers"
    help = "The largest overdue invoices first"
    minimum = 1
    maximum = 5

The business user fills ONLY the blanks: `TaskTemplate.form_schema()` is their JSON Schema (so
`retrofit.web.forms` renders and validates it like any input model; `form_model()` is the model
to validate with), and `TaskTemplate.build(values)` validates them and returns the
`AgentTaskInput`, whose allowed actions, budget, model endpoint, policy and output schema always
come from the template. A value is substituted in one pass, as text: braces in it are not blanks,
newlines and control characters become spaces, and each is length-capped, so a value cannot
change the goal's structure, add an action or set the budget. AgentTaskInput redacts the goal.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, create_model, model_validator

from retrofit.agent.contracts import AgentTaskInput, Budget, ModelChoice
from retrofit.gate.policy_merge import PolicyRequest
from retrofit.llm.contracts import PRIMARY_ENDPOINT

EXAMPLE_TEMPLATES_FILE = Path(__file__).resolve().parent.parent / "embedded" / "task-templates.toml"
# A blank's value is at most this long (the operator may set less), whatever the template says.
MAX_BLANK_CHARS = 500
_GOAL_MAX = 4000  # AgentTaskInput.goal's max_length
_NAME = r"^[a-z][a-z0-9-]{0,62}$"
_BLANK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ENDPOINT_NAME = r"^[a-z][a-z0-9_-]{0,39}$"  # retrofit.llm.settings.ENDPOINT_NAME
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


class TemplateError(ValueError):
    """A templates file that cannot be used: which file, which template, which field, and why."""


class Blank(BaseModel):
    """One typed blank of a goal pattern."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["string", "integer", "number", "enum"]
    label: str = Field(min_length=1, max_length=200)
    help: str | None = Field(default=None, max_length=1000)
    default: str | int | float | None = None
    # string
    pattern: str | None = Field(default=None, description="a regex the whole value must match")
    min_length: int | None = Field(default=None, ge=0)
    max_length: int = Field(default=200, ge=1, le=MAX_BLANK_CHARS)
    # integer, number
    minimum: float | None = None
    maximum: float | None = None
    # enum
    choices: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Blank:
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum blank needs `choices`")
        if self.type != "enum" and self.choices:
            raise ValueError("`choices` is for enum blanks only")
        if self.type not in ("integer", "number") and (self.minimum is not None or self.maximum is not None):
            raise ValueError("`minimum`/`maximum` are for integer and number blanks only")
        if self.type != "string" and (self.pattern is not None or self.min_length is not None):
            raise ValueError("`pattern`/`min_length` are for string blanks only")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(f"`pattern` is not a regex: {error}") from None
        if self.type == "integer" and any(
            b is not None and not float(b).is_integer() for b in (self.minimum, self.maximum)
        ):
            raise ValueError("an integer blank's `minimum`/`maximum` are whole numbers")
        if any(len(choice) > self.max_length for choice in self.choices):
            raise ValueError("a choice is longer than `max_length`")
        return self

    def annotation(self) -> Any:
        if self.type == "integer":
            return int
        if self.type == "number":
            return float
        if self.type == "enum":
            return Literal[tuple(self.choices)]
        return str

    def field(self) -> Any:
        constraints: dict[str, Any] = {"title": self.label, "description": self.help}
        if self.type == "string":
            # Anchored: the HTML form and the server both match the whole value.
            pattern = None if self.pattern is None else f"^(?:{self.pattern})$"
            constraints |= {
                "pattern": pattern,
                "min_length": self.min_length or 1,
                "max_length": self.max_length,
            }
        if self.type in ("integer", "number"):
            as_type = int if self.type == "integer" else float
            low, high = self.minimum, self.maximum
            constraints |= {
                "ge": None if low is None else as_type(low),
                "le": None if high is None else as_type(high),
            }
            if self.type == "number":
                constraints["allow_inf_nan"] = False
        if self.default is not None:
            return Field(default=self.default, validate_default=True, **constraints)
        return Field(..., **constraints)


class TaskTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    goal: str = Field(min_length=1, max_length=_GOAL_MAX, description="the goal, with {blank} names")
    blanks: dict[str, Blank] = Field(default_factory=dict)
    allowed_actions: list[str] = Field(min_length=1)
    budget: Budget = Field(default_factory=Budget)
    model: str = Field(default=PRIMARY_ENDPOINT, pattern=_ENDPOINT_NAME, description="an endpoint name")
    policy: PolicyRequest | None = None
    output_schema: dict[str, Any] | None = None

    _form_model: type[BaseModel] = PrivateAttr()

    @model_validator(mode="after")
    def _checked(self) -> TaskTemplate:
        used = _blanks_in(self.goal)
        for name in self.blanks:
            if not _BLANK_NAME.fullmatch(name) or hasattr(BaseModel, name):
                raise ValueError(
                    f"blank name {name!r}: lower case letters, digits and _ (not a pydantic name)"
                )
        missing = sorted(set(used) - set(self.blanks))
        unused = sorted(set(self.blanks) - set(used))
        if missing or unused:
            raise ValueError(
                f"goal blanks {missing} have no [blanks] entry; blanks {unused} are not in the goal"
            )
        longest = len(_substitute(self.goal, {}, allow_missing=True)) + sum(
            self.blanks[name].max_length for name in used
        )
        if longest > _GOAL_MAX:
            raise ValueError(
                f"the goal, filled to the blanks' max_length, can be {longest} > {_GOAL_MAX} characters"
            )
        if self.policy is not None and self.policy.model_extra:
            raise ValueError(f"policy: unknown keys {sorted(self.policy.model_extra)}")
        # Everything but the blanks is known now: the task it builds must be valid as it stands.
        self._task(self.goal.replace("{", "(").replace("}", ")"))
        fields = {name: (blank.annotation(), blank.field()) for name, blank in self.blanks.items()}
        self._form_model = create_model(  # type: ignore[call-overload]
            f"Blanks_{self.name.replace('-', '_')}",
            __config__=ConfigDict(extra="forbid", title=self.title),
            **fields,
        )
        try:
            self._form_model.model_validate({})
        except ValidationError as error:
            bad = [item for item in error.errors() if item["type"] != "missing"]
            if bad:
                where = ".".join(str(part) for part in bad[0]["loc"])
                raise ValueError(f"blanks.{where}.default: {bad[0]['msg']}") from None
        return self

    def form_model(self) -> type[BaseModel]:
        """The pydantic model of the blanks (extra keys forbidden): validate forms with it."""
        return self._form_model

    def form_schema(self) -> dict[str, Any]:
        """The JSON Schema of the blanks, for `retrofit.web.forms.form_fields`."""
        return self._form_model.model_json_schema()

    def build(self, values: Mapping[str, Any] | BaseModel) -> AgentTaskInput:
        """The agent task with the blanks filled in. Raises pydantic's ValidationError for bad or
        extra values (locations are the blank names)."""
        data = values.model_dump() if isinstance(values, BaseModel) else dict(values)
        filled = self._form_model.model_validate(data)
        texts = {name: _as_text(getattr(filled, name), self.blanks[name].max_length) for name in self.blanks}
        return self._task(_substitute(self.goal, texts))

    def _task(self, goal: str) -> AgentTaskInput:
        return AgentTaskInput(
            goal=goal,
            allowed_actions=list(self.allowed_actions),
            budget=self.budget.model_copy(deep=True),
            model=ModelChoice(endpoint=self.model),
            policy=None if self.policy is None else self.policy.model_copy(deep=True),
            output_schema=None if self.output_schema is None else dict(self.output_schema),
        )


def _blanks_in(goal: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(goal))
    except ValueError as error:
        raise ValueError(f"goal: {error} (write a literal brace as {{{{ or }}}})") from None
    names: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _BLANK_NAME.fullmatch(name) or spec or conversion:
            raise ValueError(f"goal: {{{name}}} is not a blank name (lower case letters, digits, _)")
        names.append(name)
    return names


def _substitute(goal: str, texts: Mapping[str, str], allow_missing: bool = False) -> str:
    # One pass over the pattern: what a value contains is never parsed as pattern.
    out: list[str] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(goal):
        out.append(literal)
        if name is not None:
            out.append(texts.get(name, "") if allow_missing else texts[name])
    return "".join(out)


def _as_text(value: Any, cap: int) -> str:
    text = format(value, "g") if isinstance(value, float) else str(value)
    return " ".join(_CONTROL.sub(" ", text).split())[:cap]


def load_templates(path: Path, endpoints: Collection[str] | None = None) -> list[TaskTemplate]:
    """The templates in a TOML file (`[[template]]` tables). `endpoints`: the operator's endpoint
    names (`LlmSettings().endpoint_names()`), checked when given. Raises TemplateError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TemplateError(
            f"{path}: cannot read the task templates file: {error.strerror or error}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TemplateError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - {"template"})
    if unknown:
        raise TemplateError(f"{path}: unknown top-level keys {unknown}; templates are [[template]] tables")
    raw = data.get("template", [])
    if not isinstance(raw, list):
        raise TemplateError(f"{path}: `template` must be [[template]] tables")
    templates: list[TaskTemplate] = []
    for index, entry in enumerate(raw, start=1):
        label = f"template #{index}"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            label += f" {entry['name']!r}"
        try:
            template = TaskTemplate.model_validate(entry)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or '(template)'}: {item['msg']}"
                for item in error.errors()
            )
            raise TemplateError(f"{path}: {label}: {problems}") from None
        if any(t.name == template.name for t in templates):
            raise TemplateError(f"{path}: {label}: the name is used by an earlier template")
        if endpoints is not None and template.model not in endpoints:
            raise TemplateError(
                f"{path}: {label}: model: endpoint {template.model!r} is not configured "
                f"(configured: {sorted(endpoints)})"
            )
        templates.append(template)
    return templates


def configured_templates(path: Path | None, endpoints: Collection[str] | None = None) -> list[TaskTemplate]:
    """The operator's templates (`RetrofitSettings().task_templates_file`), none without a file."""
    return [] if path is None else load_templates(path, endpoints)
