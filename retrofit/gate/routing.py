"""Which task queue an action activity is scheduled on — decided from pinned state only.

The connector -> task queue table travels inside the policy snapshot the workflow pins into its
history on first use (a local activity, see `state.pinned_policy`). Why there and not in the
workflow input or a worker-side lookup: every workflow already pins that snapshot, integrators'
workflow inputs stay theirs, and the table a run routes by is recorded — a replay, or a workflow
task picked up by a worker with a different configuration, routes exactly as the first run did.
Histories pinned before this field existed decode with an empty table: the workflow's own queue.
"""

from __future__ import annotations

from pydantic import Field

from retrofit.gate.policy import Policy
from retrofit.identity.pin import IdentityPin


class PolicySnapshot(Policy):
    """The result of the policy-pinning local activity: the policy, the routing table and the
    identity pin (the identity service's public keys every answer is verified with).

    A snapshot pinned before `identity` existed decodes with the default pin: verified mode with
    no keys, so such a run refuses every new answer rather than trust a typed name.
    """

    task_queues: dict[str, str] = Field(default_factory=dict)  # connector name -> task queue
    identity: IdentityPin = Field(default_factory=IdentityPin)
    # The Retrofit search attributes the worker found registered on the namespace (see
    # `retrofit.gate.search_attributes`): only these are upserted. Older snapshots: none.
    search_attributes: list[str] = Field(default_factory=list)


def task_queue_of(snapshot: Policy, connector: str) -> str | None:
    """The queue for `connector`'s actions; None means the workflow's own task queue."""
    return snapshot.task_queues.get(connector) if isinstance(snapshot, PolicySnapshot) else None
