"""Helpers the SQL tests share: connector settings for a working copy, and a bound action call."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import pytest

from connectors.northwind.connector import NorthwindConnector, NorthwindSettings
from legacy.sqldb.database import SqlDemoDatabase
from legacy.sqldb.postgres import PostgresDemoDatabase
from retrofit.sdk.context import ActionContext
from retrofit.sdk.context import running_call as sdk_running_call

# Short, so lock tests fail fast; still far above what an uncontended statement needs.
TEST_LOCK_TIMEOUT_S = 0.2

#: A Northwind working copy on either database. Test SQL that runs on both quotes every
#: identifier ("Orders"."OrderID"): PostgreSQL folds unquoted names to lower case.
NorthwindDatabase = SqlDemoDatabase | PostgresDemoDatabase

#: Run a test on the SQLite copy and on PostgreSQL (skipped without RETROFIT_TEST_POSTGRES_URL).
both_backends = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def settings_for(database: NorthwindDatabase, **overrides: Any) -> NorthwindSettings:
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
