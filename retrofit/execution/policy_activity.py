"""The local activity through which a workflow pins the worker's policy into its history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from temporalio import activity

from retrofit.execution.search_attribute_check import SearchAttributeCheck
from retrofit.gate.contracts import POLICY_ACTIVITY
from retrofit.gate.policy import Policy
from retrofit.gate.routing import PolicySnapshot
from retrofit.identity.pin import IdentityPin


def build_policy_activity(
    policy: Policy,
    task_queues: Mapping[str, str] | None = None,
    identity: IdentityPin | None = None,
    search_attributes: SearchAttributeCheck | None = None,
) -> Callable[[], Awaitable[PolicySnapshot]]:
    # The routing table and the identity pin ride along with the policy: all are pinned once per
    # run (see gate/routing.py). No pin: verified mode with no keys — every answer is refused.
    pinned = PolicySnapshot(
        **policy.model_dump(), task_queues=dict(task_queues or {}), identity=identity or IdentityPin()
    )

    @activity.defn(name=POLICY_ACTIVITY)
    async def snapshot() -> PolicySnapshot:
        # The search attributes the worker found registered at its start (none: nothing upserted).
        names = list(search_attributes.names) if search_attributes else []
        return pinned.model_copy(update={"search_attributes": names})

    return snapshot
