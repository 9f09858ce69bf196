"""Policy: a pure function from a proposed call to allow / require approval / deny.

Runs inside the workflow (deterministic, no I/O). Precedence, first match wins:

    argument rules (e.g. credit_limit > 100000)  ->  rule for the exact action
    ->  rule for `connector.*`  ->  rule for the effect

Defaults by effect: READ allow, WRITE one approval, DESTRUCTIVE two approvals. A DESTRUCTIVE call
is never simply allowed, whatever a rule or a model says: an `allow` is raised to the default
two-approver requirement, and a rule asking for one approver is raised to two. The effect is the
connector's declaration, never the model's claim.

This policy is the operator's (the worker's, pinned into history). What a workflow's own input
asks for can only tighten it: see `retrofit.gate.policy_merge`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retrofit.sdk.effect import Effect

#: What the gate does when an action fails past its retry budget: raise `ActionFailedError` at
#: once, or ask a person to retry, skip or abort (`retrofit.gate.escalation`).
OnFailure = Literal["raise", "escalate"]
#: What happens when an approval request's deadline passes with too few approvals.
OnTimeout = Literal["reject", "escalate", "fail"]
#: Which policy decided a call: the operator's alone, or the operator's made stricter by the
#: workflow's own request (`retrofit.gate.policy_merge`).
DecidedBy = Literal["operator", "operator, tightened by input"]


class Outcome(StrEnum):
    ALLOW = "allow"
    REQUIRE_APPROVAL = "require_approval"
    DENY = "deny"


class ApprovalRequirement(BaseModel):
    """How a call gets approved; enforced by the approval step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers_needed: int = Field(default=1, ge=1, le=10)
    allowed_approvers: tuple[str, ...] = ()  # names; with allowed_groups empty too: anyone
    allowed_groups: tuple[str, ...] = ()
    timeout: timedelta = Field(default=timedelta(hours=24), gt=timedelta(0))
    on_timeout: OnTimeout = "reject"
    escalate_to: tuple[str, ...] = ()  # groups that may answer after the first deadline
    escalation_timeout: timedelta = Field(default=timedelta(hours=24), gt=timedelta(0))

    @model_validator(mode="after")
    def _escalation_needs_a_target(self) -> Self:
        if self.on_timeout == "escalate" and not self.escalate_to:
            raise ValueError("on_timeout = 'escalate' needs escalate_to (one or more groups)")
        return self


class FailureEscalation(BaseModel):
    """Who resolves an action that failed past its retry budget, and by when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_approvers: tuple[str, ...] = ()  # names; with allowed_groups empty too: anyone
    allowed_groups: tuple[str, ...] = ()
    timeout: timedelta = Field(default=timedelta(hours=24), gt=timedelta(0))
    # Nobody answered: fail the call (`abort`, the caller gets ActionFailedError) or `skip` it.
    on_timeout: Literal["abort", "skip"] = "abort"
    # How many times people may answer "retry" for one call before only skip/abort remain.
    max_retries: int = Field(default=5, ge=0, le=100)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    reason: str = ""
    approval: ApprovalRequirement | None = None
    on_failure: OnFailure | None = None  # None: the policy's default for the effect

    @model_validator(mode="after")
    def _approval_defaults(self) -> Self:
        if self.outcome is Outcome.REQUIRE_APPROVAL and self.approval is None:
            self.approval = ApprovalRequirement()
        return self


Comparison = Literal["eq", "ne", "gt", "ge", "lt", "le", "in", "not_in"]


class ArgumentRule(BaseModel):
    """`when <field> <op> <value>` for calls to `action` (a name or `connector.*`), apply `then`."""

    model_config = ConfigDict(extra="forbid")

    action: str
    field: str  # dotted path into the validated arguments
    op: Comparison
    value: Any
    then: Rule

    def matches(self, call: ProposedCall) -> bool:
        if not _name_matches(self.action, call.action):
            return False
        found, actual = _lookup(call.arguments, self.field)
        # A field that is absent or not comparable does not match: arguments were validated
        # against the action's model, so this means the rule names the wrong field.
        return found and _compare(actual, self.op, self.value)


class ProposedCall(BaseModel):
    action: str
    effect: Effect
    arguments: dict[str, Any]


class Decision(BaseModel):
    outcome: Outcome
    reason: str
    matched: str  # which rule decided, for the audit trail
    approval: ApprovalRequirement | None = None
    on_failure: OnFailure | None = None  # from the matched rule; None: the effect's default
    # With a workflow's own policy request (policy_merge): who decided, the request's matching
    # rule, and what of the request was ignored because it would have lowered the operator's.
    decided_by: DecidedBy = "operator"
    input_matched: str | None = None
    ignored: list[str] = Field(default_factory=list)


def _default_effect_rules() -> dict[Effect, Rule]:
    return {
        Effect.READ: Rule(outcome=Outcome.ALLOW, reason="reads are allowed"),
        Effect.WRITE: Rule(
            outcome=Outcome.REQUIRE_APPROVAL,
            reason="writes need one approval",
            approval=ApprovalRequirement(approvers_needed=1),
        ),
        Effect.DESTRUCTIVE: DESTRUCTIVE_FLOOR,
    }


def _default_on_failure() -> dict[Effect, OnFailure]:
    return {Effect.READ: "raise", Effect.WRITE: "escalate", Effect.DESTRUCTIVE: "escalate"}


DESTRUCTIVE_FLOOR = Rule(
    outcome=Outcome.REQUIRE_APPROVAL,
    reason="destructive actions need two approvals",
    approval=ApprovalRequirement(approvers_needed=2),
)


class Policy(BaseModel):
    """Rules by effect, overridden per action and by argument rules; `groups` name approvers."""

    model_config = ConfigDict(extra="forbid")

    by_effect: dict[Effect, Rule] = Field(default_factory=_default_effect_rules)
    by_action: dict[str, Rule] = Field(default_factory=dict)
    argument_rules: list[ArgumentRule] = Field(default_factory=list)
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # Past the retry budget: reads fail at once (nothing changed, the caller decides), changes ask
    # a person, because a business process should not silently lose a write to an outage.
    on_failure: dict[Effect, OnFailure] = Field(default_factory=_default_on_failure)
    failure_escalation: FailureEscalation = Field(default_factory=FailureEscalation)

    @model_validator(mode="after")
    def _groups_exist(self) -> Self:
        rules = [*self.by_effect.values(), *self.by_action.values(), *(r.then for r in self.argument_rules)]
        for rule in rules:
            if rule.approval is None:
                continue
            for group in (*rule.approval.allowed_groups, *rule.approval.escalate_to):
                if group not in self.groups:
                    raise ValueError(f"approval group {group!r} is not defined in [groups]")
        for group in self.failure_escalation.allowed_groups:
            if group not in self.groups:
                raise ValueError(f"failure escalation group {group!r} is not defined in [groups]")
        return self

    def failure_handling(self, effect: Effect, decision: Decision) -> OnFailure:
        """What to do when this call fails past its retry budget (the caller may override)."""
        return decision.on_failure or self.on_failure.get(effect, "raise")

    def may_resolve(self, resolver: str) -> bool:
        escalation = self.failure_escalation
        if not escalation.allowed_approvers and not escalation.allowed_groups:
            return True
        return resolver in escalation.allowed_approvers or any(
            resolver in self.groups.get(g, ()) for g in escalation.allowed_groups
        )

    def decide(self, call: ProposedCall) -> Decision:
        decision = self._first_match(call)
        if call.effect is Effect.DESTRUCTIVE and decision.outcome is Outcome.ALLOW:
            raised = _decision(DESTRUCTIVE_FLOOR, f"floor:destructive (raised from {decision.matched})")
            return raised.model_copy(update={"on_failure": decision.on_failure})
        approval = decision.approval
        if call.effect is Effect.DESTRUCTIVE and approval is not None and approval.approvers_needed < 2:
            # Two distinct people for an irreversible call, even when a rule asks for one.
            raised_approval = approval.model_copy(update={"approvers_needed": 2})
            return decision.model_copy(
                update={"approval": raised_approval, "matched": f"floor:destructive ({decision.matched})"}
            )
        return decision

    def first_match(self, call: ProposedCall) -> Decision:
        """The decision of the first matching rule, before the destructive floor is applied."""
        return self._first_match(call)

    def _first_match(self, call: ProposedCall) -> Decision:
        for index, arg_rule in enumerate(self.argument_rules):
            if arg_rule.matches(call):
                where = f"argument_rules[{index}]:{arg_rule.field} {arg_rule.op} {arg_rule.value!r}"
                return _decision(arg_rule.then, where)
        connector = call.action.split(".", 1)[0]
        for key in (call.action, f"{connector}.*"):
            rule = self.by_action.get(key)
            if rule is not None:
                return _decision(rule, f"action:{key}")
        rule = self.by_effect.get(call.effect)
        if rule is None:
            # An effect without a rule is a configuration gap: refuse rather than guess.
            return Decision(
                outcome=Outcome.DENY,
                reason=f"no policy rule for effect {call.effect.value!r}",
                matched="default:deny",
            )
        return _decision(rule, f"effect:{call.effect.value}")

    def may_approve(self, requirement: ApprovalRequirement, approver: str, *, escalated: bool) -> bool:
        names, groups = (
            ((), requirement.escalate_to)
            if escalated
            else (requirement.allowed_approvers, requirement.allowed_groups)
        )
        if not names and not groups:
            return True
        return approver in names or any(approver in self.groups.get(g, ()) for g in groups)


def allow_all() -> Policy:
    """Everything but DESTRUCTIVE allowed without approval: for tests and trusted batch jobs."""
    return Policy(
        by_effect={
            Effect.READ: Rule(outcome=Outcome.ALLOW),
            Effect.WRITE: Rule(outcome=Outcome.ALLOW),
            Effect.DESTRUCTIVE: DESTRUCTIVE_FLOOR,
        }
    )


def _decision(rule: Rule, matched: str) -> Decision:
    return Decision(
        outcome=rule.outcome,
        reason=rule.reason or f"{rule.outcome.value} by {matched}",
        matched=matched,
        approval=rule.approval,
        on_failure=rule.on_failure,
    )


def _name_matches(pattern: str, action: str) -> bool:
    if pattern.endswith(".*"):
        return action.split(".", 1)[0] == pattern[:-2]
    return pattern == action


def _lookup(arguments: dict[str, Any], path: str) -> tuple[bool, Any]:
    current: Any = arguments
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _compare(actual: Any, op: Comparison, expected: Any) -> bool:
    if op in ("in", "not_in"):
        if not isinstance(expected, list | tuple):
            return False
        return (actual in expected) == (op == "in")
    if isinstance(expected, int | float | Decimal) and not isinstance(expected, bool):
        try:
            left, right = Decimal(str(actual)), Decimal(str(expected))
        except InvalidOperation:
            return False
    else:
        left, right = actual, expected
    try:
        if op == "eq":
            return bool(left == right)
        if op == "ne":
            return bool(left != right)
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False
