"""Policy: a pure function from a proposed call to allow / require approval / deny.

Runs inside the workflow (deterministic, no I/O). The effect gives the default; a rule per action
overrides it. The model never gets a say: the effect is the connector's declaration, not a claim.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from retrofit.sdk.effect import Effect


class Outcome(StrEnum):
    ALLOW = "allow"
    REQUIRE_APPROVAL = "require_approval"
    DENY = "deny"


class ApprovalRequirement(BaseModel):
    """How a call gets approved. Enforced by the approval step."""

    approvers_needed: int = Field(default=1, ge=1)
    allowed_approvers: list[str] = Field(default_factory=list)  # empty: anyone
    timeout: timedelta = timedelta(hours=24)
    on_timeout: Literal["reject", "escalate", "fail"] = "reject"


class Rule(BaseModel):
    outcome: Outcome
    reason: str = ""
    approval: ApprovalRequirement | None = None


class ProposedCall(BaseModel):
    action: str
    effect: Effect
    arguments: dict[str, Any]


class Decision(BaseModel):
    outcome: Outcome
    reason: str
    matched: str  # which rule decided, for the audit trail
    approval: ApprovalRequirement | None = None


def _default_effect_rules() -> dict[Effect, Rule]:
    return {
        Effect.READ: Rule(outcome=Outcome.ALLOW, reason="reads are allowed"),
        Effect.WRITE: Rule(outcome=Outcome.ALLOW, reason="writes are allowed"),
        Effect.DESTRUCTIVE: Rule(
            outcome=Outcome.DENY,
            reason="destructive actions are denied unless a policy allows them",
        ),
    }


class Policy(BaseModel):
    """Rules by effect, overridden by rules per action (`connector.action` or `connector.*`)."""

    by_effect: dict[Effect, Rule] = Field(default_factory=_default_effect_rules)
    by_action: dict[str, Rule] = Field(default_factory=dict)

    def decide(self, call: ProposedCall) -> Decision:
        connector = call.action.split(".", 1)[0]
        for key in (call.action, f"{connector}.*"):
            rule = self.by_action.get(key)
            if rule is not None:
                return self._decision(rule, f"action:{key}")
        rule = self.by_effect.get(call.effect)
        if rule is None:
            # An effect without a rule is a configuration gap: refuse rather than guess.
            return Decision(
                outcome=Outcome.DENY,
                reason=f"no policy rule for effect {call.effect.value!r}",
                matched="default:deny",
            )
        return self._decision(rule, f"effect:{call.effect.value}")

    @staticmethod
    def _decision(rule: Rule, matched: str) -> Decision:
        return Decision(
            outcome=rule.outcome,
            reason=rule.reason or f"{rule.outcome.value} by {matched}",
            matched=matched,
            approval=rule.approval,
        )
