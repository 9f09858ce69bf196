"""The operator's policy tightened by a workflow's request: the hostile inputs of issue 12, what a
tightening request does, and (hypothesis) that the merge is never weaker than the operator's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from retrofit.gate.policy import (
    ApprovalRequirement,
    ArgumentRule,
    Decision,
    Outcome,
    Policy,
    ProposedCall,
    Rule,
    allow_all,
)
from retrofit.gate.policy_merge import OPERATOR, TIGHTENED, PolicyRequest, as_request, decide
from retrofit.sdk import Effect

WRITE = ProposedCall(action="crm.add_note", effect=Effect.WRITE, arguments={"body": "x"})
DELETE = ProposedCall(action="crm.delete_contact", effect=Effect.DESTRUCTIVE, arguments={})
READ = ProposedCall(action="crm.get_account", effect=Effect.READ, arguments={})
OPERATOR_POLICY = Policy(groups={"finance": ("bob",)})


def request(raw: dict[str, Any]) -> PolicyRequest:
    # As a task input arrives: JSON, validated on the worker.
    return PolicyRequest.model_validate(raw)


def test_a_request_cannot_allow_a_write() -> None:
    decision = decide(OPERATOR_POLICY, request({"by_effect": {"write": {"outcome": "allow"}}}), WRITE)
    assert decision.outcome is Outcome.REQUIRE_APPROVAL
    assert decision.approval is not None and decision.approval.approvers_needed == 1
    assert decision.decided_by == OPERATOR
    assert decision.input_matched == "input:effect:write"
    assert decision.ignored == ["outcome allow (the operator's policy: require_approval)"]


def test_a_request_cannot_allow_a_write_by_action_rule_or_argument_rule() -> None:
    allow = {"outcome": "allow"}
    by_action = request({"by_action": {"crm.add_note": allow, "crm.*": allow}})
    by_argument = request(
        {"argument_rules": [{"action": "crm.*", "field": "body", "op": "eq", "value": "x", "then": allow}]}
    )
    for hostile in (by_action, by_argument):
        assert decide(OPERATOR_POLICY, hostile, WRITE).outcome is Outcome.REQUIRE_APPROVAL


def test_a_request_cannot_lower_the_destructive_floor_to_one_approver() -> None:
    one = {"outcome": "require_approval", "approval": {"approvers_needed": 1}}
    decision = decide(OPERATOR_POLICY, request({"by_action": {"crm.delete_contact": one}}), DELETE)
    assert decision.outcome is Outcome.REQUIRE_APPROVAL
    assert decision.approval is not None and decision.approval.approvers_needed == 2
    assert "approvers_needed 1 (the operator's policy: 2)" in decision.ignored


def test_the_destructive_floor_holds_for_the_operators_own_rules_too() -> None:
    one = Rule(outcome=Outcome.REQUIRE_APPROVAL, approval=ApprovalRequirement(approvers_needed=1))
    lax = Policy(by_effect={Effect.DESTRUCTIVE: one}, by_action={"crm.delete_contact": one})
    decision = lax.decide(DELETE)
    assert decision.approval is not None and decision.approval.approvers_needed == 2
    assert decision.matched.startswith("floor:destructive")


def test_a_requests_groups_give_nobody_anything() -> None:
    hostile = request(
        {
            "groups": {"finance": ["mallory"], "ops": ["mallory"]},
            "by_effect": {
                "write": {"outcome": "require_approval", "approval": {"allowed_groups": ["finance"]}}
            },
        }
    )
    decision = decide(OPERATOR_POLICY, hostile, WRITE)
    assert decision.approval is not None and decision.approval.allowed_groups == ("finance",)
    # Membership is the operator's: "finance" is bob, never mallory.
    assert OPERATOR_POLICY.may_approve(decision.approval, "bob", escalated=False)
    assert not OPERATOR_POLICY.may_approve(decision.approval, "mallory", escalated=False)
    assert any(note.startswith("groups:") for note in decision.ignored)
    # And a Policy passed whole (code calling run_action) loses its groups the same way.
    converted = as_request(Policy(groups={"finance": ("mallory",)}))
    assert converted is not None and "groups" in (converted.model_extra or {})


def test_a_request_cannot_turn_deny_into_anything_else() -> None:
    frozen = Policy(by_action={"crm.add_note": Rule(outcome=Outcome.DENY, reason="CRM frozen")})
    for outcome in ("allow", "require_approval"):
        decision = decide(frozen, request({"by_action": {"crm.add_note": {"outcome": outcome}}}), WRITE)
        assert (decision.outcome, decision.reason, decision.decided_by) == (
            Outcome.DENY,
            "CRM frozen",
            OPERATOR,
        )


def test_a_tightening_request_takes_effect() -> None:
    deny = decide(Policy(), request({"by_action": {"crm.get_account": {"outcome": "deny"}}}), READ)
    assert (deny.outcome, deny.decided_by, deny.matched) == (
        Outcome.DENY,
        TIGHTENED,
        "input:action:crm.get_account",
    )
    three = {"outcome": "require_approval", "approval": {"approvers_needed": 3, "timeout": "PT1H"}}
    more = decide(Policy(), request({"by_action": {"crm.delete_contact": three}}), DELETE)
    assert more.approval is not None
    assert (more.approval.approvers_needed, more.approval.timeout) == (3, timedelta(hours=1))
    assert more.decided_by == TIGHTENED
    # Approval where the operator allows.
    wanted = decide(allow_all(), request({"by_effect": {"write": {"outcome": "require_approval"}}}), WRITE)
    assert wanted.outcome is Outcome.REQUIRE_APPROVAL and wanted.decided_by == TIGHTENED


def test_a_request_without_an_effect_rule_has_no_opinion() -> None:
    # The operator allows writes; a request that only denies one action changes nothing else.
    only_delete = request({"by_action": {"crm.delete_contact": {"outcome": "deny"}}})
    assert decide(allow_all(), only_delete, WRITE).outcome is Outcome.ALLOW
    assert decide(allow_all(), only_delete, READ).outcome is Outcome.ALLOW
    assert decide(allow_all(), only_delete, DELETE).outcome is Outcome.DENY


def test_approver_restrictions_intersect_and_an_empty_intersection_denies() -> None:
    def needs(**approval: Any) -> Policy:
        return Policy(
            by_effect={
                Effect.WRITE: Rule(outcome=Outcome.REQUIRE_APPROVAL, approval=ApprovalRequirement(**approval))
            },
            groups={"finance": ("bob",), "ops": ("erin",)},
        )

    operator = needs(allowed_approvers=("alice", "carol"), allowed_groups=("finance",))
    both = request(
        {
            "by_effect": {
                "write": {
                    "outcome": "require_approval",
                    "approval": {"allowed_approvers": ["carol", "mallory"], "allowed_groups": ["ops"]},
                }
            }
        }
    )
    decision = decide(operator, both, WRITE)
    assert decision.approval is not None
    assert (decision.approval.allowed_approvers, decision.approval.allowed_groups) == (("carol",), ())
    disjoint = request(
        {
            "by_effect": {
                "write": {"outcome": "require_approval", "approval": {"allowed_approvers": ["mallory"]}}
            }
        }
    )
    assert decide(operator, disjoint, WRITE).outcome is Outcome.DENY
    # A person the request names and the operator allows through a group (its table) may approve.
    only_bob = request(
        {"by_effect": {"write": {"outcome": "require_approval", "approval": {"allowed_approvers": ["bob"]}}}}
    )
    bob = decide(operator, only_bob, WRITE)
    assert bob.approval is not None
    assert (bob.approval.allowed_approvers, bob.approval.allowed_groups) == (("bob",), ())
    # Only the request restricts: its restriction holds.
    narrowed = decide(Policy(), disjoint, WRITE)
    assert narrowed.approval is not None and narrowed.approval.allowed_approvers == ("mallory",)


def test_escalation_never_widens() -> None:
    escalating = Rule(
        outcome=Outcome.REQUIRE_APPROVAL,
        approval=ApprovalRequirement(on_timeout="escalate", escalate_to=("finance",)),
    )
    operator = Policy(by_effect={Effect.WRITE: escalating}, groups={"finance": ("bob",), "ops": ("erin",)})
    wider = request(
        {
            "by_effect": {
                "write": {
                    "outcome": "require_approval",
                    "approval": {"on_timeout": "escalate", "escalate_to": ["ops"]},
                }
            }
        }
    )
    decision = decide(operator, wider, WRITE)
    assert decision.approval is not None
    assert decision.approval.on_timeout == "reject" and decision.approval.escalate_to == ()
    # The operator does not escalate: a request cannot make it.
    assert decide(Policy(), wider, WRITE).approval == Policy().decide(WRITE).approval


# --- never weaker, for any call (hypothesis) -----------------------------------------------------

NAMES = ("alice", "bob", "carol", "mallory")
GROUPS = {"finance": ("bob",), "ops": ("carol", "mallory")}
ACTIONS = ("crm.add_note", "crm.delete_contact", "crm.get_account", "erp.record_payment")

requirements = st.builds(
    ApprovalRequirement,
    approvers_needed=st.integers(1, 4),
    allowed_approvers=st.lists(st.sampled_from(NAMES), max_size=2, unique=True).map(tuple),
    allowed_groups=st.lists(st.sampled_from(list(GROUPS)), max_size=2, unique=True).map(tuple),
    timeout=st.sampled_from([timedelta(minutes=5), timedelta(hours=1), timedelta(hours=24)]),
    on_timeout=st.sampled_from(["reject", "fail"]),
    escalation_timeout=st.sampled_from([timedelta(hours=1), timedelta(hours=2)]),
) | st.builds(
    ApprovalRequirement,
    approvers_needed=st.integers(1, 4),
    allowed_approvers=st.lists(st.sampled_from(NAMES), max_size=2, unique=True).map(tuple),
    on_timeout=st.just("escalate"),
    escalate_to=st.lists(st.sampled_from(list(GROUPS)), min_size=1, max_size=2, unique=True).map(tuple),
)
rules = st.builds(
    Rule,
    outcome=st.sampled_from(list(Outcome)),
    approval=st.none() | requirements,
)
effect_rules = st.dictionaries(st.sampled_from(list(Effect)), rules, max_size=3)
action_rules = st.dictionaries(st.sampled_from([*ACTIONS, "crm.*", "erp.*"]), rules, max_size=3)
argument_rules = st.lists(
    st.builds(
        ArgumentRule,
        action=st.sampled_from([*ACTIONS, "crm.*"]),
        field=st.just("amount"),
        op=st.sampled_from(["gt", "le", "eq"]),
        value=st.integers(0, 100),
        then=rules,
    ),
    max_size=2,
)
operator_policies = st.builds(
    lambda effects, actions, args: Policy(
        by_effect={**Policy().by_effect, **effects}, by_action=actions, argument_rules=args, groups=GROUPS
    ),
    effect_rules,
    action_rules,
    argument_rules,
)
requests = st.builds(
    lambda effects, actions, args, groups: PolicyRequest.model_validate(
        {
            "by_effect": effects,
            "by_action": actions,
            "argument_rules": args,
            **({"groups": {"finance": ["mallory"]}} if groups else {}),
        }
    ),
    effect_rules,
    action_rules,
    argument_rules,
    st.booleans(),
)
calls_ = st.builds(
    ProposedCall,
    action=st.sampled_from(ACTIONS),
    effect=st.sampled_from(list(Effect)),
    arguments=st.fixed_dictionaries({"amount": st.integers(-5, 105)}),
)

RANK = {Outcome.ALLOW: 0, Outcome.REQUIRE_APPROVAL: 1, Outcome.DENY: 2}
TIMEOUT_RANK = {"escalate": 0, "reject": 1, "fail": 2}


def _people(policy: Policy, requirement: ApprovalRequirement, *, escalated: bool) -> set[str]:
    everyone = (*NAMES, "erin")
    return {p for p in everyone if policy.may_approve(requirement, p, escalated=escalated)}


def _assert_not_weaker(policy: Policy, merged: Decision, baseline: Decision, effect: Effect) -> None:
    assert RANK[merged.outcome] >= RANK[baseline.outcome]
    if effect is Effect.DESTRUCTIVE:
        assert merged.outcome is Outcome.DENY or (
            merged.approval is not None and merged.approval.approvers_needed >= 2
        )
    if merged.outcome is not Outcome.REQUIRE_APPROVAL or baseline.outcome is not Outcome.REQUIRE_APPROVAL:
        return
    got, base = merged.approval, baseline.approval
    assert got is not None and base is not None
    assert got.approvers_needed >= base.approvers_needed
    assert got.timeout <= base.timeout
    assert TIMEOUT_RANK[got.on_timeout] >= TIMEOUT_RANK[base.on_timeout]
    # Judged with the operator's groups: whoever may approve the merged call may approve the baseline.
    assert _people(policy, got, escalated=False) <= _people(policy, base, escalated=False)
    if got.on_timeout == "escalate":
        assert base.on_timeout == "escalate"
        assert _people(policy, got, escalated=True) <= _people(policy, base, escalated=True)
        assert got.escalation_timeout <= base.escalation_timeout


@settings(max_examples=800, derandomize=True, database=None, deadline=None)
@given(operator=operator_policies, requested=requests, call=calls_)
def test_the_merge_is_never_weaker_than_the_operators_policy(
    operator: Policy, requested: PolicyRequest, call: ProposedCall
) -> None:
    merged = decide(operator, requested, call)
    _assert_not_weaker(operator, merged, operator.decide(call), call.effect)
    # Nor weaker than what the request itself asked for (judged with the operator's groups).
    _assert_not_weaker(operator, merged, requested.as_policy().first_match(call), call.effect)
    assert decide(operator, requested, call) == merged  # deterministic
