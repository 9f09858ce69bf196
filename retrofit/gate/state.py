"""Per-workflow-run gate state, kept on the workflow instance so it lives and dies with the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow

from retrofit.audit.events import Actor, ActorKind
from retrofit.gate.answer_identity import IdentityBook
from retrofit.gate.approvals import ApprovalBook
from retrofit.gate.contracts import POLICY_ACTIVITY
from retrofit.gate.escalation import FailureBook
from retrofit.gate.policy import Policy
from retrofit.gate.routing import PolicySnapshot, task_queue_of
from retrofit.identity.pin import IdentityPin

_ATTR = "_retrofit_gate_state"


@dataclass
class GateState:
    actor: Actor
    step: int = 0
    approvals: ApprovalBook = field(default_factory=ApprovalBook)
    failures: FailureBook = field(default_factory=FailureBook)
    refused_signals: int = 0
    policy: Policy | None = None
    identity: IdentityBook = field(default_factory=IdentityBook)

    def next_step(self) -> int:
        self.step += 1
        return self.step


def gate_state() -> GateState:
    instance = workflow.instance()
    state: GateState | None = getattr(instance, _ATTR, None)
    if state is None:
        info = workflow.info()
        state = GateState(actor=Actor(kind=ActorKind.WORKFLOW, name=info.workflow_type))
        setattr(instance, _ATTR, state)
    return state


def act_as(actor: Actor) -> None:
    """Attribute the calls that follow to `actor` (e.g. the agent and its model)."""
    gate_state().actor = actor


def continue_steps_from(step: int) -> None:
    """After continue-as-new, keep numbering steps where the previous run stopped, so idempotency
    keys (workflow id + step) never repeat within one workflow id."""
    state = gate_state()
    state.step = max(state.step, step)


async def pinned_policy() -> Policy:
    """The worker's policy as it was when this run first needed it.

    Fetched once through a local activity, so the policy is recorded in history: editing the
    policy file and restarting workers changes new decisions, never the replay of old ones.
    """
    state = gate_state()
    if state.policy is None:
        state.policy = await workflow.execute_local_activity(
            POLICY_ACTIVITY, result_type=PolicySnapshot, start_to_close_timeout=timedelta(seconds=10)
        )
    return state.policy


def pinned_identity() -> IdentityPin:
    """The identity pin of this run's policy snapshot; before the snapshot is pinned (or from a
    snapshot pinned before the pin existed), the default: verified mode with no keys, which
    refuses every answer rather than trust a typed name."""
    snapshot = gate_state().policy
    return snapshot.identity if isinstance(snapshot, PolicySnapshot) else IdentityPin()


def operator_groups() -> dict[str, tuple[str, ...]]:
    """The group tables of the operator's pinned policy (never a workflow's own policy)."""
    snapshot = gate_state().policy
    return dict(snapshot.groups) if snapshot is not None else {}


async def action_task_queue(connector: str) -> str | None:
    """The task queue `connector`'s action activities run on, from the pinned snapshot (see
    `retrofit.gate.routing`); None is the workflow's own queue. Pins the snapshot if the run has
    not yet (a workflow that passes its own policy to `run_action` still routes by the worker's)."""
    return task_queue_of(await pinned_policy(), connector)
