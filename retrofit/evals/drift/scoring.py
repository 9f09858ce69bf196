"""A group of agent runs as the figures drift is judged on.

Rates are fractions (0..1) of what they can happen to: answered of the runs that finished, refused
and invalid of the tool calls the model proposed, rejected of the approvals requested. A rate with
nothing to count is None, never 0: "no tool calls" is not "no invalid calls".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field

from retrofit.agent.contracts import StopReason
from retrofit.evals.drift.records import RunFacts

ANSWERED = StopReason.ANSWERED.value


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `fraction` of them at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class GroupScore(BaseModel):
    runs: int
    finished: int
    answered: int
    stopped: dict[str, int] = Field(description="runs that finished without an answer, by stop reason")
    answered_rate: float | None
    tool_calls: int
    refused: int
    refusal_rate: float | None
    invalid: int
    invalid_rate: float | None
    approvals_requested: int
    approvals_rejected: int
    approvals_expired: int
    rejection_rate: float | None
    turns: int
    tokens: int
    tokens_per_turn: float | None
    tokens_p50: float | None
    tokens_p95: float | None
    cost_usd: float
    cost_per_turn: float | None
    cost_p50_usd: float | None
    cost_p95_usd: float | None
    unpriced_turns: int = Field(description="turns with an unpriced attempt: their cost is a lower bound")
    latency_p50_ms: float | None
    latency_p95_ms: float | None


def score(runs: Sequence[RunFacts]) -> GroupScore:
    finished = [run for run in runs if run.status is not None]
    answered = sum(1 for run in finished if run.status == ANSWERED)
    stopped = Counter(run.status for run in finished if run.status is not None and run.status != ANSWERED)
    turns = [turn for run in runs for turn in run.turns]
    latencies = [turn.latency_ms for turn in turns if turn.latency_ms is not None]
    tool_calls = sum(run.tool_calls for run in runs)
    refused = sum(run.refused for run in runs)
    invalid = sum(run.invalid for run in runs)
    requested = sum(run.approvals_requested for run in runs)
    rejected = sum(run.approvals_rejected for run in runs)
    tokens = sum(turn.tokens for turn in turns)
    cost = sum(turn.cost_usd for turn in turns)
    return GroupScore(
        runs=len(runs),
        finished=len(finished),
        answered=answered,
        stopped={reason: stopped[reason] for reason in sorted(stopped)},
        answered_rate=_rate(answered, len(finished)),
        tool_calls=tool_calls,
        refused=refused,
        refusal_rate=_rate(refused, tool_calls),
        invalid=invalid,
        invalid_rate=_rate(invalid, tool_calls),
        approvals_requested=requested,
        approvals_rejected=rejected,
        approvals_expired=sum(run.approvals_expired for run in runs),
        rejection_rate=_rate(rejected, requested),
        turns=len(turns),
        tokens=tokens,
        tokens_per_turn=tokens / len(turns) if turns else None,
        tokens_p50=percentile([float(turn.tokens) for turn in turns], 0.50),
        tokens_p95=percentile([float(turn.tokens) for turn in turns], 0.95),
        cost_usd=round(cost, 9),
        cost_per_turn=cost / len(turns) if turns else None,
        cost_p50_usd=percentile([turn.cost_usd for turn in turns], 0.50),
        cost_p95_usd=percentile([turn.cost_usd for turn in turns], 0.95),
        unpriced_turns=sum(1 for turn in turns if turn.unpriced),
        latency_p50_ms=percentile(latencies, 0.50),
        latency_p95_ms=percentile(latencies, 0.95),
    )
