"""The local activity through which a workflow pins the worker's policy into its history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import activity

from retrofit.gate.contracts import POLICY_ACTIVITY
from retrofit.gate.policy import Policy


def build_policy_activity(policy: Policy) -> Callable[[], Awaitable[Policy]]:
    @activity.defn(name=POLICY_ACTIVITY)
    async def snapshot() -> Policy:
        return policy

    return snapshot
