"""The integrator-facing connector SDK."""

from retrofit.sdk.action import ActionInput, action
from retrofit.sdk.connector import Connector, ConnectorSettings, ConnectorSettingsError
from retrofit.sdk.context import ActionContext, capture_exchange, current_call
from retrofit.sdk.describe import describe_connector
from retrofit.sdk.effect import Effect
from retrofit.sdk.errors import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    NotSentError,
    OutcomeUnknownError,
    PluginError,
    RetrofitError,
    RetryableError,
)
from retrofit.sdk.lookup import LookupResult, LookupStatus
from retrofit.sdk.spec import ActionSpec, ConnectorSpec, RetrySettings

__all__ = [
    "ActionContext",
    "ActionInput",
    "ActionInputError",
    "ActionSpec",
    "AuthError",
    "Connector",
    "ConnectorSettings",
    "ConnectorSettingsError",
    "ConnectorSpec",
    "Delivery",
    "Effect",
    "LookupResult",
    "LookupStatus",
    "NonRetryableError",
    "NotSentError",
    "OutcomeUnknownError",
    "PluginError",
    "RetrofitError",
    "RetrySettings",
    "RetryableError",
    "action",
    "capture_exchange",
    "current_call",
    "describe_connector",
]
