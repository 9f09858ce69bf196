"""Trajectory and answer checks of a scenario (`[expect.trajectory]`, `[expect.answer]`): pure
functions of what the audit trail recorded and what the agent answered.

    [expect.trajectory]
    of = "executed"            # or "proposed": every call the model made, refused ones included
    order = "subsequence"      # "exact" (these calls and no others, in order), "subsequence" (in
                               # this order, others between allowed) or "set" (any order, each
                               # step a different call, no action outside the steps)
    max_calls = 6              # tool calls the model proposed, refused ones included
    max_turns = 8              # model turns
    steps = [
      { action = "erp.list_invoices" },
      { action = "crm.add_note", arguments = { account_id = "A-2005" } },          # subset (default)
      { action = "crm.add_note", arguments = { ... }, arguments_match = "exact" },  # all of them
      { action = "crm.add_note", predicate = "matches", params = { field = "body", pattern = "INV-" } },
    ]

    [expect.answer]
    exact = "..."              # the answer, whitespace at the ends ignored
    contains = ["INV-10014"]   # each, case-sensitive
    not_contains = ["void"]
    json_schema = { type = "object", required = ["total"] }   # the answer (or parsed output): a JSON object
    judge = { criteria = "Names the invoice and the customer.", endpoint = "judge", min_score = 0.7 }

Arguments are compared as the gate validated them (defaults filled in), from `action.proposed`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retrofit.agent.output_schema import parse_answer
from retrofit.evals.predicates import predicate, predicate_names


class TrajectoryStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    arguments: dict[str, Any] | None = None
    arguments_match: Literal["exact", "subset"] = "subset"
    predicate: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_predicate(self) -> TrajectoryStep:
        if self.predicate is not None and predicate(self.predicate) is None:
            raise ValueError(
                f"unknown predicate {self.predicate!r} (known: {', '.join(predicate_names())}; "
                "register more with retrofit.evals.predicates.register_predicate and --predicates)"
            )
        return self


class TrajectoryCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    of: Literal["executed", "proposed"] = "executed"
    order: Literal["exact", "subsequence", "set"] = "subsequence"
    steps: list[TrajectoryStep] = Field(default_factory=list)
    max_calls: int | None = Field(default=None, ge=0)
    max_turns: int | None = Field(default=None, ge=0)


class JudgeCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criteria: str = Field(min_length=1, max_length=4000)
    # The operator's name for the judge endpoint (RETROFIT_LLM_ENDPOINTS); never a URL or key.
    endpoint: str = "judge"
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)


class AnswerCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exact: str | None = None
    contains: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)
    json_schema: dict[str, Any] | None = None
    judge: JudgeCheck | None = None

    @model_validator(mode="after")
    def _an_object_schema(self) -> AnswerCheck:
        if self.json_schema is not None and self.json_schema.get("type", "object") != "object":
            raise ValueError("json_schema describes a JSON object (type = 'object')")
        return self


class Call(BaseModel):
    """One tool call of the trajectory: its action, arguments (None when it never reached the
    gate) and whether it ran."""

    action: str
    arguments: dict[str, Any] | None = None
    executed: bool = False


def step_matches(step: TrajectoryStep, call: Call) -> bool:
    if step.action != call.action:
        return False
    if step.arguments is not None:
        if call.arguments is None:
            return False
        if step.arguments_match == "exact" and call.arguments != step.arguments:
            return False
        if step.arguments_match == "subset" and any(
            k not in call.arguments or call.arguments[k] != v for k, v in step.arguments.items()
        ):
            return False
    if step.predicate is not None:
        fn = predicate(step.predicate)
        if fn is None or call.arguments is None:
            return False
        try:
            return bool(fn(call.arguments, step.params))
        except (ValueError, TypeError, KeyError):  # a predicate that cannot judge says no
            return False
    return True


def trajectory_problems(
    check: TrajectoryCheck, calls: Sequence[Call], proposed: int, turns: int
) -> list[str]:
    """What is wrong with the trajectory; empty when the check holds."""
    problems: list[str] = []
    if check.max_calls is not None and proposed > check.max_calls:
        problems.append(f"{proposed} tool calls, budget {check.max_calls}")
    if check.max_turns is not None and turns > check.max_turns:
        problems.append(f"{turns} model turns, budget {check.max_turns}")
    seen = [c for c in calls if c.executed] if check.of == "executed" else list(calls)
    names = [c.action for c in seen]
    wanted = [s.action for s in check.steps]
    if check.order == "exact":
        bad = len(seen) != len(check.steps) or not all(
            step_matches(s, c) for s, c in zip(check.steps, seen, strict=False)
        )
        if bad:
            problems.append(f"trajectory ({check.of}) {names} is not exactly the steps {wanted}")
    elif check.order == "subsequence":
        index = 0
        for call in seen:
            if index < len(check.steps) and step_matches(check.steps[index], call):
                index += 1
        if index < len(check.steps):
            problems.append(
                f"trajectory ({check.of}) {names} lacks step {index + 1} ({wanted[index]}) in order"
            )
    else:
        missing = _unmatched_steps(check.steps, seen)
        if missing:
            problems.append(f"trajectory ({check.of}) {names} has no call for steps {missing}")
        extra = sorted({n for n in names if n not in wanted})
        if extra:
            problems.append(f"trajectory ({check.of}) has actions outside the set: {extra}")
    return problems


def _unmatched_steps(steps: Sequence[TrajectoryStep], calls: Sequence[Call]) -> list[str]:
    """Steps left over by the best one-to-one assignment of steps to calls (augmenting paths: a
    greedy pass would fail a subset step that took the only call a stricter step could use)."""
    owner: dict[int, int] = {}  # call index -> step index

    def assign(step: int, visited: set[int]) -> bool:
        for index, call in enumerate(calls):
            if index in visited or not step_matches(steps[step], call):
                continue
            visited.add(index)
            if index not in owner or assign(owner[index], visited):
                owner[index] = step
                return True
        return False

    matched = {s for s in range(len(steps)) if assign(s, set())}
    return [steps[s].action for s in range(len(steps)) if s not in matched]


def answer_problems(check: AnswerCheck, answer: str | None, output: dict[str, Any] | None) -> list[str]:
    """The answer checks that do not hold (the judge is separate: it calls a model)."""
    text = answer or ""
    problems: list[str] = []
    if check.exact is not None and text.strip() != check.exact.strip():
        problems.append(f"answer is not exactly {_short(check.exact)!r}: {_short(text)!r}")
    problems += [f"answer lacks {s!r}" for s in check.contains if s not in text]
    problems += [f"answer contains {s!r}" for s in check.not_contains if s in text]
    if check.json_schema is not None:
        # The agent's own checker (the subset of JSON Schema pydantic emits), on the parsed output
        # when the task had an output schema, else on the answer text.
        _, wrong = parse_answer(json.dumps(output) if output is not None else text, check.json_schema)
        if wrong is not None:
            problems.append(f"answer fails json_schema: {_short(wrong)}")
    return problems


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
