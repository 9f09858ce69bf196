"""The policy in force: the operator's, tightened — never loosened — by what a workflow asks for.

The worker's policy (pinned into history by the policy snapshot, `state.pinned_policy`) is the
operator's. A workflow's own input (AgentTask `policy`, `run_action(..., policy=...)`) is a
`PolicyRequest`: it may only make a call stricter. For every call both policies decide, and the
stricter of the two decisions is the one in force (`decide`):

- outcome: deny > require_approval > allow;
- approvals: the larger `approvers_needed`; who may approve: the intersection of the two
  restrictions when both restrict (groups with groups; a person named by one side and allowed by
  the other, by name or through a group of the operator's table; an empty intersection denies,
  because nobody could approve), the requested restriction when only it restricts; the
  shorter `timeout`; the stricter `on_timeout` (fail > reject > escalate), and escalation only when
  both escalate, to the groups both name, by the earlier deadline — so escalation never widens;
- the DESTRUCTIVE floor holds after the merge: a destructive call is denied or needs two approvals.

Groups (who is in "finance"), failure handling and failure escalation are the operator's alone:
membership comes from the operator's directory or the identity provider's verified claims, so a
request's `groups` (and any other field a request may not set) decodes but is ignored.

Why lowering parts are ignored (and recorded) rather than refused at start: the merge is per call,
so a lowering part can never take effect anyway; whether a request "lowers" something is only
exact per call (an argument rule may be stricter for some arguments and looser for others, and the
operator may tighten the file tomorrow, turning yesterday's harmless task input into a "lowering"
one); and refusing would turn a safe surplus in a task's input into a failed business process. So
each decision records which policy decided (`decided_by`) and what of the request it ignored
(`ignored`): that lands in the audit trail with the decision (`policy.allowed`, `policy.denied`,
`approval.requested`).

Pure and deterministic: runs inside the workflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retrofit.gate.policy import (
    ApprovalRequirement,
    ArgumentRule,
    DecidedBy,
    Decision,
    OnTimeout,
    Outcome,
    Policy,
    ProposedCall,
    Rule,
)
from retrofit.sdk.effect import Effect

OPERATOR: DecidedBy = "operator"
TIGHTENED: DecidedBy = "operator, tightened by input"

_OUTCOME_RANK = {Outcome.ALLOW: 0, Outcome.REQUIRE_APPROVAL: 1, Outcome.DENY: 2}
_ON_TIMEOUT_RANK: dict[OnTimeout, int] = {"escalate": 0, "reject": 1, "fail": 2}
_NO_OPINION = Rule(outcome=Outcome.ALLOW, reason="the task's policy has no rule for it")


class PolicyRequest(BaseModel):
    """What a workflow's input may ask of the policy: rules that can only tighten the operator's.

    Same shape as `Policy`'s rules. An effect or action the request says nothing about is "no
    opinion" (the operator's decision stands), so `{"by_action": {"crm.delete_contact": {"outcome":
    "deny"}}}` denies one action and changes nothing else.
    """

    # Anything else a request says (groups, on_failure, failure_escalation, ...) still decodes, so
    # a hostile input never leaves a workflow unable to start; it is ignored and recorded.
    model_config = ConfigDict(extra="allow")

    by_effect: dict[Effect, Rule] = Field(default_factory=dict)
    by_action: dict[str, Rule] = Field(default_factory=dict)
    argument_rules: list[ArgumentRule] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_policy(cls, data: Any) -> Any:
        # A whole `Policy` (code that passes one to `run_action`): its rules, with the effect rules
        # only when they were given (a Policy's defaults are not the caller's request).
        if isinstance(data, Policy):
            given = data.model_fields_set
            out: dict[str, Any] = {
                "by_action": data.by_action,
                "argument_rules": data.argument_rules,
            }
            if "by_effect" in given:
                out["by_effect"] = data.by_effect
            if data.groups:
                out["groups"] = {name: list(members) for name, members in data.groups.items()}
            for name in ("on_failure", "failure_escalation"):
                if name in given:
                    out[name] = getattr(data, name)
            return out
        return data

    def ignored_fields(self) -> list[str]:
        """Fields of the request that only the operator sets, each with why it is ignored."""
        notes = []
        for name in sorted(self.model_extra or {}):
            if name == "groups":
                notes.append("groups: group members come from the operator's directory, not the task")
            else:
                notes.append(f"{name}: set by the operator's policy only")
        return notes

    def summary(self) -> dict[str, Any]:
        """What the request asks for, for the audit trail: rule keys, not their contents."""
        return {
            "by_effect": sorted(effect.value for effect in self.by_effect),
            "by_action": sorted(self.by_action),
            "argument_rules": len(self.argument_rules),
            "ignored": self.ignored_fields(),
        }

    def as_policy(self) -> Policy:
        """The request as a policy that decides "allow" (no opinion) wherever it has no rule."""
        effects = {effect: _NO_OPINION for effect in Effect}
        effects.update(self.by_effect)
        # model_construct: a request's approval groups resolve in the operator's directory, so
        # the `groups` check a full Policy runs does not apply here.
        return Policy.model_construct(
            by_effect=effects,
            by_action=dict(self.by_action),
            argument_rules=list(self.argument_rules),
            groups={},
        )


def as_request(policy: Policy | PolicyRequest | None) -> PolicyRequest | None:
    if policy is None or isinstance(policy, PolicyRequest):
        return policy
    return PolicyRequest.model_validate(policy)


def decide(operator: Policy, requested: PolicyRequest | None, call: ProposedCall) -> Decision:
    """The decision in force for `call`: the operator's, made stricter by `requested`."""
    mine = operator.decide(call)
    if requested is None:
        return mine
    # The request's own rule as written (no floor): what it asked for is what gets recorded.
    theirs = requested.as_policy().first_match(call)
    merged = stricter(mine, theirs, call.effect, operator.groups)
    ignored = [*merged.ignored, *requested.ignored_fields()]
    return merged.model_copy(update={"ignored": ignored})


def stricter(
    operator: Decision,
    requested: Decision,
    effect: Effect,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> Decision:
    """The stricter of two decisions for one call; `operator`'s wherever `requested` is weaker.

    `groups`: the operator's group table, so a person one side names and the other allows through
    a group (by the operator's table) still may approve."""
    base = {"input_matched": f"input:{requested.matched}", "on_failure": operator.on_failure}
    op_rank, req_rank = _OUTCOME_RANK[operator.outcome], _OUTCOME_RANK[requested.outcome]
    if operator.outcome is Outcome.DENY:
        return operator.model_copy(update={**base, "decided_by": OPERATOR})
    if requested.outcome is Outcome.DENY:
        return requested.model_copy(
            update={
                **base,
                "decided_by": TIGHTENED,
                "matched": f"input:{requested.matched}",
                "reason": f"denied by the task's policy: {requested.reason}",
                "approval": None,
            }
        )
    if req_rank < op_rank:  # the request would allow what the operator wants approved
        lowered = (
            []
            if requested.reason == _NO_OPINION.reason
            else [f"outcome {requested.outcome.value} (the operator's policy: {operator.outcome.value})"]
        )
        return operator.model_copy(update={**base, "decided_by": OPERATOR, "ignored": lowered})
    if op_rank < req_rank:  # operator allows, the request wants approval
        approval = _floor(effect, requested.approval or ApprovalRequirement())
        return requested.model_copy(
            update={
                **base,
                "decided_by": TIGHTENED,
                "approval": approval,
                "matched": f"input:{requested.matched}",
            }
        )
    if operator.outcome is Outcome.ALLOW:
        return operator.model_copy(update={**base, "decided_by": OPERATOR})
    # Both require approval: combine the requirements.
    mine = operator.approval or ApprovalRequirement()
    theirs = requested.approval or ApprovalRequirement()
    combined, ignored = _combine(mine, theirs, groups or {})
    if combined is None:
        return operator.model_copy(
            update={
                **base,
                "outcome": Outcome.DENY,
                "reason": "no approver is allowed by both the operator's and the task's policy",
                "approval": None,
                "decided_by": TIGHTENED,
                "ignored": ignored,
            }
        )
    combined = _floor(effect, combined)
    decided_by = OPERATOR if combined == _floor(effect, mine) else TIGHTENED
    return operator.model_copy(
        update={**base, "approval": combined, "decided_by": decided_by, "ignored": ignored}
    )


def _combine(
    mine: ApprovalRequirement, theirs: ApprovalRequirement, groups: Mapping[str, Sequence[str]]
) -> tuple[ApprovalRequirement | None, list[str]]:
    ignored: list[str] = []
    if theirs.approvers_needed < mine.approvers_needed:
        ignored.append(
            f"approvers_needed {theirs.approvers_needed} (the operator's policy: {mine.approvers_needed})"
        )
    names, allowed_groups = _who(mine, theirs, groups)
    if names is None or allowed_groups is None:
        return None, ignored
    on_timeout = max(mine.on_timeout, theirs.on_timeout, key=_ON_TIMEOUT_RANK.__getitem__)
    escalate_to: tuple[str, ...] = ()
    if on_timeout == "escalate":
        escalate_to = _both(mine.escalate_to, theirs.escalate_to)
        if not escalate_to:  # nobody both would escalate to: the stricter "reject"
            on_timeout = "reject"
    if theirs.on_timeout == "escalate" and on_timeout != "escalate":
        ignored.append("on_timeout escalate (the operator's policy does not escalate there)")
    elif theirs.on_timeout == "escalate" and set(theirs.escalate_to) - set(escalate_to):
        ignored.append("escalate_to groups the operator's policy does not escalate to")
    combined = ApprovalRequirement(
        approvers_needed=max(mine.approvers_needed, theirs.approvers_needed),
        allowed_approvers=names,
        allowed_groups=allowed_groups,
        timeout=min(mine.timeout, theirs.timeout),
        on_timeout=on_timeout,
        escalate_to=escalate_to,
        escalation_timeout=min(mine.escalation_timeout, theirs.escalation_timeout),
    )
    return combined, ignored


def _who(
    mine: ApprovalRequirement, theirs: ApprovalRequirement, groups: Mapping[str, Sequence[str]]
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """Who may approve under both; (None, None) when both restrict and nobody satisfies both.

    Groups meet groups; a person named by one side is kept when the other side names them too or
    allows them through a group, by the operator's group table. Always a subset of the people both
    allow (membership known only to the identity provider is not assumed: stricter, never looser).
    """
    mine_restricts = bool(mine.allowed_approvers or mine.allowed_groups)
    theirs_restricts = bool(theirs.allowed_approvers or theirs.allowed_groups)
    if not theirs_restricts:
        return mine.allowed_approvers, mine.allowed_groups
    if not mine_restricts:
        return theirs.allowed_approvers, theirs.allowed_groups

    def allows(requirement: ApprovalRequirement, person: str) -> bool:
        return person in requirement.allowed_approvers or any(
            person in groups.get(group, ()) for group in requirement.allowed_groups
        )

    named = [p for p in theirs.allowed_approvers if allows(mine, p)]
    named += [p for p in mine.allowed_approvers if allows(theirs, p)]
    names = tuple(dict.fromkeys(named))
    shared_groups = _both(mine.allowed_groups, theirs.allowed_groups)
    if not names and not shared_groups:  # empty would read as "anyone"
        return None, None
    return names, shared_groups


def _both(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    wanted = set(second)
    return tuple(dict.fromkeys(x for x in first if x in wanted))


def _floor(effect: Effect, requirement: ApprovalRequirement) -> ApprovalRequirement:
    """Two distinct people for a destructive call, whatever was merged."""
    if effect is Effect.DESTRUCTIVE and requirement.approvers_needed < 2:
        return requirement.model_copy(update={"approvers_needed": 2})
    return requirement
