"""Agent runs as the audit trail recorded them, read through the store's own API (never its tables).

A run starts at its `agent.started` record and collects the records of its workflow id that follow
in chain order (continue-as-new keeps the id, so a long task is one run); a later `agent.started`
under the same id (id reuse) starts the next run. Only what scoring needs is kept: no goal, answer,
arguments or workflow id leaves this module.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from retrofit.audit.events import AuditKind, AuditRecord

_READ = frozenset(
    {
        AuditKind.AGENT_STARTED,
        AuditKind.LLM_ATTEMPT,
        AuditKind.LLM_DECISION,
        AuditKind.AGENT_TOOL_REFUSED,
        AuditKind.INVALID,
        AuditKind.APPROVAL_REQUESTED,
        AuditKind.APPROVAL_REJECTED,
        AuditKind.APPROVAL_EXPIRED,
        AuditKind.AGENT_FINISHED,
    }
)
# Labels come from records a provider or a task wrote (a model name is whatever the provider said).
_LABEL_LIMIT = 80


class TurnFacts(BaseModel):
    """One model turn (a gate step that asked the model): what every attempt of it may have billed,
    and how long the answering attempt took."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: bool = False  # an attempt had no price: the cost is a lower bound
    latency_ms: float | None = None  # None: no attempt of the turn answered

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RunFacts(BaseModel):
    """One agent run, as far as drift is concerned."""

    started_at: datetime
    workflow_type: str
    model: str
    prompt: str = Field(description="the prompt hash of the run's opening model request; '' if none")
    status: str | None = Field(description="the stop reason (agent.finished), None while running")
    turns: list[TurnFacts] = Field(default_factory=list)
    tool_calls: int = 0  # proposed by the model, over every turn
    refused: int = 0  # agent.tool_refused: outside the allowed list, unparseable, over the cap
    invalid: int = 0  # action.invalid: arguments that failed the action's schema
    approvals_requested: int = 0
    approvals_rejected: int = 0
    approvals_expired: int = 0


def label(value: object) -> str:
    """`value` as a one-line label safe to print: printable characters only, capped."""
    text = "".join(
        ch if ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Cs") else "?" for ch in str(value)
    )
    text = " ".join(text.split())
    return text if len(text) <= _LABEL_LIMIT else text[: _LABEL_LIMIT - 1] + "…"


def _number(value: Any) -> float | None:
    # Records are data a provider influenced: a bool, text or NaN is no number.
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def _count(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else 0


@dataclass
class _Building:
    started_at: datetime
    workflow_type: str
    model: str
    turns: dict[int, TurnFacts] = field(default_factory=dict)
    prompt: str = ""
    decided_model: str = ""
    status: str | None = None
    finished_model: str = ""
    tool_calls: int = 0
    refused: int = 0
    invalid: int = 0
    requested: int = 0
    rejected: int = 0
    expired: int = 0

    def take(self, record: AuditRecord) -> None:
        data = record.data
        kind = record.kind
        if kind is AuditKind.LLM_ATTEMPT:
            turn = self._turn(record.step)
            turn.prompt_tokens += _count(data.get("prompt_tokens"))
            turn.completion_tokens += _count(data.get("completion_tokens"))
            cost = _number(data.get("cost_usd"))
            if cost is None:
                turn.unpriced = True
            else:
                turn.cost_usd += max(cost, 0.0)
        elif kind is AuditKind.LLM_DECISION:
            turn = self._turn(record.step)
            turn.latency_ms = _number(data.get("latency_ms"))
            calls = data.get("tool_calls")
            self.tool_calls += len(calls) if isinstance(calls, list) else 0
            if not self.prompt and isinstance(data.get("prompt_hash"), str):
                self.prompt = data["prompt_hash"]
            if isinstance(data.get("model"), str) and data["model"]:
                self.decided_model = data["model"]
        elif kind is AuditKind.AGENT_TOOL_REFUSED:
            self.refused += 1
        elif kind is AuditKind.INVALID:
            self.invalid += 1
        elif kind is AuditKind.APPROVAL_REQUESTED:
            self.requested += 1
        elif kind is AuditKind.APPROVAL_REJECTED:
            self.rejected += 1
        elif kind is AuditKind.APPROVAL_EXPIRED:
            self.expired += 1
        elif kind is AuditKind.AGENT_FINISHED:
            self.status = label(data.get("status") or "unknown")
            if isinstance(data.get("model"), str):
                self.finished_model = data["model"]

    def _turn(self, step: int | None) -> TurnFacts:
        return self.turns.setdefault(step or 0, TurnFacts())

    def facts(self) -> RunFacts:
        return RunFacts(
            started_at=self.started_at,
            workflow_type=label(self.workflow_type or "unknown"),
            model=label(self.finished_model or self.decided_model or self.model),
            prompt=label(self.prompt),
            status=self.status,
            turns=[self.turns[step] for step in sorted(self.turns)],
            tool_calls=self.tool_calls,
            refused=self.refused,
            invalid=self.invalid,
            approvals_requested=self.requested,
            approvals_rejected=self.rejected,
            approvals_expired=self.expired,
        )


def _started_model(record: AuditRecord) -> str:
    chosen = record.data.get("model")
    name = chosen.get("model") if isinstance(chosen, dict) else None
    return name if isinstance(name, str) and name else "configured model"


async def agent_runs(records: AsyncIterator[AuditRecord], start: datetime, end: datetime) -> list[RunFacts]:
    """The agent runs that started in [`start`, `end`), from `records` in chain order.

    A run's time is its `agent.started` record's: the workflow's own clock when it was recorded,
    else when the store wrote it. Records of runs outside the span are dropped as they stream by.
    """
    open_runs: dict[str, _Building | None] = {}
    runs: list[_Building] = []
    async for record in records:
        if record.kind not in _READ:
            continue
        if record.kind is AuditKind.AGENT_STARTED:
            at = record.occurred_at or record.recorded_at
            at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # stored as UTC
            if start <= at < end:
                run = _Building(
                    started_at=at, workflow_type=record.workflow_type, model=_started_model(record)
                )
                open_runs[record.workflow_id] = run
                runs.append(run)
            else:
                open_runs[record.workflow_id] = None  # a run outside the span: skip what follows
            continue
        building = open_runs.get(record.workflow_id)
        if building is not None:
            building.take(record)
    return [run.facts() for run in runs]
