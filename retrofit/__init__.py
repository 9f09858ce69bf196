"""Retrofit: the operational layer that puts AI agents in front of legacy systems.

Integrators import from here: `Connector`, `ConnectorSettings`, `action`, `Effect`, the error tree,
`current_call`; workflow authors import `run_action`.
"""

from retrofit.gate import (
    ActionDeniedError,
    ActionFailedError,
    ActionRejectedError,
    ActionSkippedError,
    InvalidArgumentsError,
    Policy,
    UnknownActionError,
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
    "action",
    "current_call",
    "run_action",
]
