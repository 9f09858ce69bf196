"""The drift report: two windows of equal length, the runs in each grouped, scored and compared.

    current  = [until - length, until)       previous = [until - 2 × length, until - length)

`since` sets the current window's start (its length is then until - since); otherwise `window_days`
does. Every time is UTC; a date without a time is its midnight.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from retrofit.audit.events import AuditRecord
from retrofit.evals.drift.compare import GroupComparison, Thresholds, compare
from retrofit.evals.drift.records import RunFacts, agent_runs
from retrofit.evals.drift.scoring import score

# A prompt hash is 64 hex digits; this many tell versions apart in a table.
PROMPT_PREFIX = 12


class GroupBy(StrEnum):
    MODEL = "model"
    PROMPT = "prompt"
    WORKFLOW_TYPE = "workflow-type"


class ReportError(ValueError):
    """A request that names no sensible pair of windows."""


class Window(BaseModel):
    start: datetime
    end: datetime


class DriftReport(BaseModel):
    by: GroupBy
    current: Window
    previous: Window
    thresholds: Thresholds
    groups: list[GroupComparison]
    flagged: bool = Field(description="some group moved past a threshold")


def parse_time(text: str, option: str) -> datetime:
    """An ISO date or date-time from the command line, as an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(
            f"{option}: {text!r} is not an ISO date or date-time (2026-12-01, 2026-12-01T08:00)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def windows(until: datetime, since: datetime | None, window_days: float | None) -> tuple[Window, Window]:
    if since is not None and window_days is not None:
        raise ReportError("give --since or --window, not both: --since sets the window's length")
    if since is not None:
        length = until - since
        if length <= timedelta(0):
            raise ReportError("--since must be before --until")
    else:
        days = 7.0 if window_days is None else window_days
        if not 0 < days <= 3660:
            raise ReportError("--window must be more than 0 and at most 3660 days")
        length = timedelta(days=days)
    try:
        start = until - length
        return Window(start=start, end=until), Window(start=start - length, end=start)
    except OverflowError:
        raise ReportError("the windows would start before the year 1") from None


def group_key(run: RunFacts, by: GroupBy) -> str:
    if by is GroupBy.MODEL:
        return run.model
    if by is GroupBy.PROMPT:
        return run.prompt[:PROMPT_PREFIX] or "(no model turn)"
    return run.workflow_type


def _grouped(runs: Sequence[RunFacts], by: GroupBy) -> dict[str, list[RunFacts]]:
    groups: dict[str, list[RunFacts]] = defaultdict(list)
    for run in runs:
        groups[group_key(run, by)].append(run)
    return groups


async def drift_report(
    records: AsyncIterator[AuditRecord],
    *,
    current: Window,
    previous: Window,
    by: GroupBy,
    thresholds: Thresholds,
) -> DriftReport:
    runs = await agent_runs(records, previous.start, current.end)
    now = _grouped([r for r in runs if r.started_at >= current.start], by)
    before = _grouped([r for r in runs if r.started_at < current.start], by)
    groups = [
        compare(
            key,
            score(now[key]) if key in now else None,
            score(before[key]) if key in before else None,
            thresholds,
        )
        for key in sorted(now.keys() | before.keys())
    ]
    return DriftReport(
        by=by,
        current=current,
        previous=previous,
        thresholds=thresholds,
        groups=groups,
        flagged=any(group.flags for group in groups),
    )
