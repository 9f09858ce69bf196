"""Retrofit: the operational layer that puts AI agents in front of legacy systems.

Integrators import from here: `Connector`, `ConnectorSettings`, `action`, `Effect`, the error tree,
`current_call`; workflow authors import `run_action` and derive start inputs from `WorkflowInput`.
"""

from retrofit.gate import (
    ActionDeniedError,
    ActionFailedError,
    ActionRejectedError,
    ActionSkippedError,
    InvalidArgumentsError,
    Policy,
    UnknownActionError,
    WorkflowInput,
    run_action,
)
from retrofit.sdk import (
    ActionContext,
    ActionInput,
    ActionInputError,
    AuthError,
    Connector,
    ConnectorSettings,
    Effect,
    NonRetryableError,
    PluginError,
    RetrofitError,
    RetryableError,
    RetrySettings,
    action,
    current_call,
)

__all__ = [
    "ActionContext",
    "ActionDeniedError",
    "ActionFailedError",
    "ActionInput",
    "ActionInputError",
    "ActionRejectedError",
    "ActionSkippedError",
    "AuthError",
    "Connector",
    "ConnectorSettings",
    "Effect",
    "InvalidArgumentsError",
    "NonRetryableError",
    "PluginError",
    "Policy",
    "RetrofitError",
    "RetrySettings",
    "RetryableError",
    "UnknownActionError",
    "WorkflowInput",
    "action",
    "current_call",
    "run_action",
]
