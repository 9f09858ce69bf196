from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from retrofit.gate.policy import (
    ApprovalRequirement,
    ArgumentRule,
    Outcome,
    Policy,
    ProposedCall,
    Rule,
    allow_all,
)
from retrofit.policy_file import PolicyFileError, load_policy_file
from retrofit.sdk import Effect

EXAMPLE = Path(__file__).parents[2] / "examples" / "policy.toml"


def call(action: str, effect: Effect, **arguments: object) -> ProposedCall:
    return ProposedCall(action=action, effect=effect, arguments=arguments)


def test_defaults_follow_the_effect() -> None:
    policy = Policy()
    assert policy.decide(call("crm.get", Effect.READ)).outcome is Outcome.ALLOW
    write = policy.decide(call("crm.set", Effect.WRITE))
    assert write.outcome is Outcome.REQUIRE_APPROVAL and write.approval is not None
    assert write.approval.approvers_needed == 1
    destructive = policy.decide(call("crm.delete", Effect.DESTRUCTIVE))
    assert destructive.outcome is Outcome.REQUIRE_APPROVAL and destructive.approval is not None
    assert destructive.approval.approvers_needed == 2


def test_action_rules_override_effects_exact_name_first() -> None:
    policy = Policy(
        by_action={
            "crm.*": Rule(outcome=Outcome.DENY, reason="CRM frozen"),
            "crm.get": Rule(outcome=Outcome.ALLOW),
        }
    )
    assert policy.decide(call("crm.get", Effect.READ)).outcome is Outcome.ALLOW
    frozen = policy.decide(call("crm.set", Effect.WRITE))
    assert (frozen.outcome, frozen.reason, frozen.matched) == (Outcome.DENY, "CRM frozen", "action:crm.*")
    assert policy.decide(call("erp.set", Effect.WRITE)).outcome is Outcome.REQUIRE_APPROVAL


def test_argument_rules_come_first_and_compare_decimal_strings_as_numbers() -> None:
    two = Rule(outcome=Outcome.REQUIRE_APPROVAL, approval=ApprovalRequirement(approvers_needed=2))
    policy = Policy(
        by_action={"ledger.set_credit_limit": Rule(outcome=Outcome.ALLOW)},
        argument_rules=[
            ArgumentRule(
                action="ledger.set_credit_limit", field="credit_limit", op="gt", value=100000, then=two
            )
        ],
    )
    big = policy.decide(call("ledger.set_credit_limit", Effect.WRITE, credit_limit="144000.00"))
    assert big.outcome is Outcome.REQUIRE_APPROVAL and big.approval is not None
    assert big.approval.approvers_needed == 2
    assert big.matched.startswith("argument_rules[0]:credit_limit gt")
    small = policy.decide(call("ledger.set_credit_limit", Effect.WRITE, credit_limit="99999.99"))
    assert small.outcome is Outcome.ALLOW
    # A missing field does not match the argument rule; the action rule applies.
    assert policy.decide(call("ledger.set_credit_limit", Effect.WRITE)).outcome is Outcome.ALLOW


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("in", ["EUR", "USD"], "EUR", True),
        ("not_in", ["EUR", "USD"], "EUR", False),
        ("eq", "C-1", "C-1", True),
        ("ne", "C-1", "C-1", False),
        ("le", 10, "10.00", True),
        ("lt", 10, "not a number", False),
    ],
)
def test_argument_rule_operators(op: str, value: object, actual: object, expected: bool) -> None:
    rule = ArgumentRule.model_validate(
        {"action": "x.*", "field": "f", "op": op, "value": value, "then": {"outcome": "deny"}}
    )
    assert rule.matches(call("x.y", Effect.WRITE, f=actual)) is expected


def test_destructive_actions_are_never_simply_allowed() -> None:
    policy = Policy(by_action={"crm.delete": Rule(outcome=Outcome.ALLOW)})
    decision = policy.decide(call("crm.delete", Effect.DESTRUCTIVE))
    assert decision.outcome is Outcome.REQUIRE_APPROVAL
    assert decision.matched == "floor:destructive (raised from action:crm.delete)"
    assert allow_all().decide(call("crm.delete", Effect.DESTRUCTIVE)).outcome is Outcome.REQUIRE_APPROVAL
    # A deny stays a deny.
    denied = Policy(by_action={"crm.delete": Rule(outcome=Outcome.DENY)})
    assert denied.decide(call("crm.delete", Effect.DESTRUCTIVE)).outcome is Outcome.DENY


def test_an_effect_without_a_rule_is_denied() -> None:
    policy = Policy(by_effect={Effect.READ: Rule(outcome=Outcome.ALLOW)})
    decision = policy.decide(call("crm.set", Effect.WRITE))
    assert decision.outcome is Outcome.DENY
    assert "no policy rule" in decision.reason


def test_who_may_approve_by_name_group_and_escalation() -> None:
    requirement = ApprovalRequirement(
        allowed_approvers=("zoe",),
        allowed_groups=("finance",),
        on_timeout="escalate",
        escalate_to=("controllers",),
    )
    policy = Policy(groups={"finance": ("alice",), "controllers": ("carol",)})
    assert policy.may_approve(requirement, "zoe", escalated=False)
    assert policy.may_approve(requirement, "alice", escalated=False)
    assert not policy.may_approve(requirement, "carol", escalated=False)
    assert policy.may_approve(requirement, "carol", escalated=True)
    assert not policy.may_approve(requirement, "alice", escalated=True)
    assert policy.may_approve(ApprovalRequirement(), "anyone at all", escalated=False)


def test_configuration_mistakes_are_refused() -> None:
    with pytest.raises(ValidationError, match="escalate_to"):
        ApprovalRequirement(on_timeout="escalate")
    with pytest.raises(ValidationError, match="approval group 'finance' is not defined"):
        Policy(
            by_action={
                "a.b": Rule(
                    outcome=Outcome.REQUIRE_APPROVAL,
                    approval=ApprovalRequirement(allowed_groups=("finance",)),
                )
            }
        )
    with pytest.raises(ValidationError):
        ApprovalRequirement(timeout=timedelta(0))


def test_policy_round_trips_through_json() -> None:
    policy = Policy(by_action={"crm.set": Rule(outcome=Outcome.DENY, reason="no")}, groups={"g": ("a",)})
    assert Policy.model_validate_json(policy.model_dump_json()) == policy


def test_the_example_policy_file_loads() -> None:
    policy = load_policy_file(EXAMPLE)
    assert policy.groups["finance"] == ("alice", "bob")
    write = policy.decide(call("ledger.set_credit_limit", Effect.WRITE, credit_limit="50000.00"))
    assert write.approval is not None and write.approval.on_timeout == "escalate"
    assert write.approval.timeout == timedelta(hours=4)
    big = policy.decide(call("ledger.set_credit_limit", Effect.WRITE, credit_limit="150000.00"))
    assert big.approval is not None and big.approval.approvers_needed == 2
    assert policy.decide(call("ledger.add_note", Effect.WRITE)).outcome is Outcome.ALLOW


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[effects.write\n", "not valid TOML"),
        (
            '[effects.write]\noutcome = "maybe"\n',
            "effects.write.outcome: Input should be 'allow', 'require_approval' or 'deny'",
        ),
        (
            '[effects.wrte]\noutcome = "allow"\n',
            "effects.wrte.[key]: Input should be 'read', 'write' or 'destructive'",
        ),
        (
            '[actions."a.b"]\noutcome = "require_approval"\napproval = { allowed_groups = ["ops"] }\n',
            "approval group 'ops' is not defined",
        ),
        (
            '[actions."a.b"]\noutcome = "allow"\ncolour = "red"\n',
            "actions.a.b.colour: Extra inputs are not permitted",
        ),
    ],
)
def test_an_invalid_policy_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(content)
    with pytest.raises(PolicyFileError) as info:
        load_policy_file(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_a_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="file not found"):
        load_policy_file(tmp_path / "nope.toml")
