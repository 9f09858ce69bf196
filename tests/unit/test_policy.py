from __future__ import annotations

from retrofit.gate.policy import Outcome, Policy, ProposedCall, Rule
from retrofit.sdk import Effect


def call(action: str, effect: Effect) -> ProposedCall:
    return ProposedCall(action=action, effect=effect, arguments={})


def test_defaults_follow_the_effect() -> None:
    policy = Policy()
    assert policy.decide(call("crm.get", Effect.READ)).outcome is Outcome.ALLOW
    assert policy.decide(call("crm.set", Effect.WRITE)).outcome is Outcome.ALLOW
    denied = policy.decide(call("crm.delete", Effect.DESTRUCTIVE))
    assert denied.outcome is Outcome.DENY
    assert denied.matched == "effect:destructive"


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
    assert policy.decide(call("erp.set", Effect.WRITE)).outcome is Outcome.ALLOW


def test_an_effect_without_a_rule_is_denied() -> None:
    policy = Policy(by_effect={Effect.READ: Rule(outcome=Outcome.ALLOW)})
    decision = policy.decide(call("crm.set", Effect.WRITE))
    assert decision.outcome is Outcome.DENY
    assert "no policy rule" in decision.reason


def test_policy_round_trips_through_json() -> None:
    policy = Policy(by_action={"crm.set": Rule(outcome=Outcome.DENY, reason="no")})
    assert Policy.model_validate_json(policy.model_dump_json()) == policy
