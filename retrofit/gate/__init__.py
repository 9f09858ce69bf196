"""Workflow-side gate: deterministic code only (stdlib, pydantic, `temporalio.workflow`)."""

from retrofit.gate.errors import (
    ActionDeniedError,
    ActionError,
    ActionFailedError,
    ActionRejectedError,
    ActionSkippedError,
    ApprovalTimedOutError,
    InvalidArgumentsError,
    UnknownActionError,
)
from retrofit.gate.policy import (
    ApprovalRequirement,
    Decision,
    FailureEscalation,
    OnFailure,
    Outcome,
    Policy,
    ProposedCall,
    Rule,
)
from retrofit.gate.run_action import run_action, run_action_for_model
from retrofit.gate.state import act_as, continue_steps_from
from retrofit.gate.workflow_input import WorkflowInput

__all__ = [
    "ActionDeniedError",
    "ActionError",
    "ActionFailedError",
    "ActionRejectedError",
    "ActionSkippedError",
    "ApprovalRequirement",
    "ApprovalTimedOutError",
    "Decision",
    "FailureEscalation",
    "InvalidArgumentsError",
    "OnFailure",
    "Outcome",
    "Policy",
    "ProposedCall",
    "Rule",
    "UnknownActionError",
    "WorkflowInput",
    "act_as",
    "continue_steps_from",
    "run_action",
    "run_action_for_model",
]
