"""Helpers the SQL tests share: connector settings for a working copy, and a bound action call."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from connectors.northwind.connector import NorthwindConnector, NorthwindSettings
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.sdk.context import ActionContext
from retrofit.sdk.context import running_call as sdk_running_call

# Short, so lock tests fail fast; still far above what an uncontended statement needs.
TEST_LOCK_TIMEOUT_S = 0.2


def settings_for(database: SqlDemoDatabase, **overrides: Any) -> NorthwindSettings:
    settings = NorthwindConnector.load_settings(
        **{"url": database.url, "lock_timeout_seconds": TEST_LOCK_TIMEOUT_S, **overrides}
    )
    assert isinstance(settings, NorthwindSettings)
    return settings


def running_call(
    idempotency_key: str, action: str = "northwind.ship_order"
) -> AbstractContextManager[ActionContext]:
    """What the worker does around an action: bind the call so `current_call()` sees its key."""
    return sdk_running_call(action, idempotency_key, workflow_id="wf-northwind-test", run_id="run-1")
