"""The current window against the previous one: a change past a threshold is flagged.

Rates move in points (a fraction's difference × 100); per-turn cost, tokens and p95 latency move in
percent of the previous window's value, so they need a previous value above zero. Nothing is
flagged for a group with fewer than `min_runs` runs in either window: a handful of runs is noise.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from retrofit.evals.drift.scoring import GroupScore


class Thresholds(BaseModel):
    """How far a figure may move before it is drift. Changes must exceed these (`>`)."""

    answered_drop_points: float = Field(default=10.0, ge=0, description="answered rate down, in points")
    invalid_rise_points: float = Field(default=5.0, ge=0, description="invalid-argument rate up, points")
    refusal_rise_points: float = Field(default=5.0, ge=0, description="refused tool calls up, in points")
    rejection_rise_points: float = Field(default=10.0, ge=0, description="approvals rejected up, points")
    cost_rise_percent: float = Field(default=25.0, ge=0, description="cost per turn up, in percent")
    tokens_rise_percent: float = Field(default=25.0, ge=0, description="tokens per turn up, in percent")
    latency_rise_percent: float = Field(default=50.0, ge=0, description="p95 turn latency up, in percent")
    # Fast turns wobble by large percentages (4 ms to 7 ms is +75 %): a rise must also be this big.
    latency_floor_ms: float = Field(default=50.0, ge=0, description="p95 rise below this is not drift")
    min_runs: int = Field(default=5, ge=1, description="runs needed in each window before flagging")


class Flag(BaseModel):
    metric: str
    previous: float
    current: float
    change: str  # "-40.0 points", "+61.2 %"
    threshold: str


class GroupComparison(BaseModel):
    group: str
    current: GroupScore | None
    previous: GroupScore | None
    flags: list[Flag] = Field(default_factory=list)
    note: str = ""  # why nothing could be compared, when that is so


def _points(
    name: str,
    before: float | None,
    after: float | None,
    limit: float,
    *,
    worse_is_up: bool,
) -> Flag | None:
    if before is None or after is None:
        return None
    moved = (after - before) * 100 * (1 if worse_is_up else -1)
    if moved <= limit:
        return None
    sign = "+" if after >= before else "-"
    return Flag(
        metric=name,
        previous=before,
        current=after,
        change=f"{sign}{abs(after - before) * 100:.1f} points",
        threshold=f"{'+' if worse_is_up else '-'}{limit:g} points",
    )


def _percent(
    name: str, before: float | None, after: float | None, limit: float, floor: float = 0.0
) -> Flag | None:
    if before is None or after is None or before <= 0:
        return None
    rise = (after - before) / before * 100
    if rise <= limit or after - before <= floor:
        return None
    return Flag(
        metric=name,
        previous=before,
        current=after,
        change=f"+{rise:.1f} %",
        threshold=f"+{limit:g} %" + (f" and +{floor:g} ms" if floor else ""),
    )


def compare(
    group: str, current: GroupScore | None, previous: GroupScore | None, limits: Thresholds
) -> GroupComparison:
    if current is None or previous is None:
        note = "no runs in the current window" if current is None else "no runs in the previous window"
        return GroupComparison(group=group, current=current, previous=previous, note=note)
    if min(current.runs, previous.runs) < limits.min_runs:
        note = (
            f"too few runs to compare ({previous.runs} before, {current.runs} now; "
            f"at least {limits.min_runs} each)"
        )
        return GroupComparison(group=group, current=current, previous=previous, note=note)
    found = (
        _points(
            "answered rate",
            previous.answered_rate,
            current.answered_rate,
            limits.answered_drop_points,
            worse_is_up=False,
        ),
        _points(
            "invalid-argument rate",
            previous.invalid_rate,
            current.invalid_rate,
            limits.invalid_rise_points,
            worse_is_up=True,
        ),
        _points(
            "refusal rate",
            previous.refusal_rate,
            current.refusal_rate,
            limits.refusal_rise_points,
            worse_is_up=True,
        ),
        _points(
            "approval rejection rate",
            previous.rejection_rate,
            current.rejection_rate,
            limits.rejection_rise_points,
            worse_is_up=True,
        ),
        _percent("cost per turn", previous.cost_per_turn, current.cost_per_turn, limits.cost_rise_percent),
        _percent(
            "tokens per turn", previous.tokens_per_turn, current.tokens_per_turn, limits.tokens_rise_percent
        ),
        _percent(
            "p95 latency per turn",
            previous.latency_p95_ms,
            current.latency_p95_ms,
            limits.latency_rise_percent,
            limits.latency_floor_ms,
        ),
    )
    flags = [flag for flag in found if flag is not None]
    return GroupComparison(group=group, current=current, previous=previous, flags=flags)
