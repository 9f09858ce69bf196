"""Which failures escalate to a person: policy defaults, rules, the TOML file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from retrofit.gate.policy import FailureEscalation, Outcome, Policy, ProposedCall, Rule, allow_all
from retrofit.policy_file import PolicyFileError, load_policy_file
from retrofit.sdk import Effect


def _handling(policy: Policy, action: str, effect: Effect) -> str:
    decision = policy.decide(ProposedCall(action=action, effect=effect, arguments={}))
    return policy.failure_handling(effect, decision)


def test_reads_raise_and_changes_escalate_by_default() -> None:
    for policy in (Policy(), allow_all()):
        assert _handling(policy, "erp.get_invoice", Effect.READ) == "raise"
        assert _handling(policy, "erp.record_payment", Effect.WRITE) == "escalate"
        assert _handling(policy, "erp.void_invoice", Effect.DESTRUCTIVE) == "escalate"


def test_a_rule_overrides_the_effect_default_even_when_the_destructive_floor_applies() -> None:
    policy = Policy(
        by_action={
            "crm.add_note": Rule(outcome=Outcome.ALLOW, on_failure="raise"),
            "crm.delete_contact": Rule(outcome=Outcome.ALLOW, on_failure="raise"),
        },
        on_failure={Effect.READ: "escalate"},
    )
    assert _handling(policy, "crm.add_note", Effect.WRITE) == "raise"
    assert _handling(policy, "crm.delete_contact", Effect.DESTRUCTIVE) == "raise"
    assert _handling(policy, "crm.get_account", Effect.READ) == "escalate"
    assert _handling(policy, "crm.update_account_status", Effect.WRITE) == "raise"  # not listed


def test_who_may_resolve() -> None:
    policy = Policy(groups={"ops": ("olga",)}, failure_escalation=FailureEscalation(allowed_groups=("ops",)))
    assert policy.may_resolve("olga") and not policy.may_resolve("mallory")
    assert Policy().may_resolve("anyone")
    with pytest.raises(ValueError, match="failure escalation group 'ops'"):
        Policy(failure_escalation=FailureEscalation(allowed_groups=("ops",)))


def test_the_policy_file_configures_escalation(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        """
[groups]
ops = ["olga"]

[on_failure]
read = "raise"
write = "escalate"
destructive = "escalate"

[failure_escalation]
allowed_groups = ["ops"]
timeout = 14400
on_timeout = "skip"
max_retries = 2

[actions."ledger.add_note"]
outcome = "allow"
on_failure = "raise"
""",
        encoding="utf-8",
    )
    policy = load_policy_file(path)
    assert policy.failure_escalation == FailureEscalation(
        allowed_groups=("ops",), timeout=timedelta(hours=4), on_timeout="skip", max_retries=2
    )
    assert _handling(policy, "ledger.add_note", Effect.WRITE) == "raise"
    path.write_text('[on_failure]\nwrite = "retry_forever"\n', encoding="utf-8")
    with pytest.raises(PolicyFileError, match=r"on_failure\.write"):
        load_policy_file(path)
