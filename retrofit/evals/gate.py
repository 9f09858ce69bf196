"""The gate over an evaluation: runs grouped into cases (one per scenario, `--repeat k` runs each),
pass rates held to thresholds, and a comparison with a stored baseline report.

A case passes when its pass rate reaches its scenario's `min_pass_rate` (1.0 unless the file says
otherwise); the gate holds when every case passes, the overall pass rate (passed runs / runs)
reaches `--min-pass-rate` when one is given, and no case regressed against the baseline. A
regression is a case whose pass rate dropped, or that passed in the baseline and fails now. Cases
that got worse in tokens, cost, turns or latency (by more than `tolerance`, 25% by default) are
flagged in the report but do not fail the gate: live latency and token counts are noisy.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from retrofit.evals.runner import ScenarioScore

REPORT_VERSION = 1


class CaseReport(BaseModel):
    name: str
    source: str = ""
    runs: int
    passed_runs: int
    pass_rate: float
    min_pass_rate: float
    passed: bool
    statuses: dict[str, int]
    problems: list[str]  # distinct, over all runs
    tokens_mean: float
    cost_usd_mean: float
    turns_mean: float
    tool_calls_mean: float
    latency_s_mean: float
    latency_s_p95: float
    model_s_mean: float
    framework_s_mean: float
    approval_wait_s_mean: float
    judge_score_mean: float | None = None
    regression: str | None = None  # why this case fails the baseline comparison
    worse: list[str] = Field(default_factory=list)  # flagged, not gating
    scores: list[ScenarioScore] = Field(default_factory=list)


class GateResult(BaseModel):
    passed: bool
    reasons: list[str]
    min_pass_rate: float | None = None
    baseline: str | None = None


class EvalReport(BaseModel):
    version: int = REPORT_VERSION
    created_at: datetime
    model: str
    scripted: bool
    repeat: int
    runs: int
    passed_runs: int
    pass_rate: float
    tokens: int
    cost_usd: float
    cases: list[CaseReport]
    gate: GateResult


def case_report(name: str, source: str, scores: Sequence[ScenarioScore], min_pass_rate: float) -> CaseReport:
    passed = sum(1 for s in scores if s.passed)
    rate = passed / len(scores) if scores else 0.0
    statuses: dict[str, int] = {}
    for s in scores:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    judged = [s.judge.score for s in scores if s.judge is not None and s.judge.score is not None]
    latencies = sorted(s.latency_s for s in scores)
    return CaseReport(
        name=name,
        source=source,
        runs=len(scores),
        passed_runs=passed,
        pass_rate=rate,
        min_pass_rate=min_pass_rate,
        passed=bool(scores) and rate >= min_pass_rate,
        statuses=statuses,
        problems=list(dict.fromkeys(p for s in scores for p in s.problems)),
        tokens_mean=_mean(s.tokens for s in scores),
        cost_usd_mean=_mean(s.cost_usd for s in scores),
        turns_mean=_mean(s.model_turns for s in scores),
        tool_calls_mean=_mean(s.tool_calls for s in scores),
        latency_s_mean=_mean(latencies),
        latency_s_p95=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0,
        model_s_mean=_mean(s.model_s for s in scores),
        framework_s_mean=_mean(s.framework_s for s in scores),
        approval_wait_s_mean=_mean(s.approval_wait_s for s in scores),
        judge_score_mean=statistics.fmean(judged) if judged else None,
        scores=list(scores),
    )


def build_report(
    cases: Sequence[CaseReport],
    *,
    model: str,
    scripted: bool,
    repeat: int,
    min_pass_rate: float | None = None,
    baseline: EvalReport | None = None,
    baseline_name: str | None = None,
    tolerance: float = 0.25,
) -> EvalReport:
    cases = [c.model_copy() for c in cases]
    if baseline is not None:
        compare(cases, baseline, tolerance)
    runs = sum(c.runs for c in cases)
    passed_runs = sum(c.passed_runs for c in cases)
    rate = passed_runs / runs if runs else 0.0
    reasons = [
        f"{c.name}: pass rate {c.pass_rate:.2f} < {c.min_pass_rate:.2f}" for c in cases if not c.passed
    ]
    if min_pass_rate is not None and rate < min_pass_rate:
        reasons.append(f"overall pass rate {rate:.2f} < {min_pass_rate:.2f}")
    reasons += [f"{c.name}: regression: {c.regression}" for c in cases if c.regression]
    return EvalReport(
        created_at=datetime.now(UTC),
        model=model,
        scripted=scripted,
        repeat=repeat,
        runs=runs,
        passed_runs=passed_runs,
        pass_rate=rate,
        tokens=sum(s.tokens for c in cases for s in c.scores),
        cost_usd=sum(s.cost_usd for c in cases for s in c.scores),
        cases=cases,
        gate=GateResult(
            passed=not reasons, reasons=reasons, min_pass_rate=min_pass_rate, baseline=baseline_name
        ),
    )


def compare(cases: Sequence[CaseReport], baseline: EvalReport, tolerance: float) -> None:
    """Mark each case against the baseline's case of the same name (new cases: nothing to compare)."""
    before = {c.name: c for c in baseline.cases}
    for case in cases:
        old = before.get(case.name)
        if old is None:
            continue
        if case.pass_rate < old.pass_rate:
            case.regression = f"pass rate {old.pass_rate:.2f} -> {case.pass_rate:.2f}"
        elif old.passed and not case.passed:
            case.regression = "passed in the baseline, fails now"
        for label, now, then in (
            ("tokens", case.tokens_mean, old.tokens_mean),
            ("cost", case.cost_usd_mean, old.cost_usd_mean),
            ("turns", case.turns_mean, old.turns_mean),
            ("tool calls", case.tool_calls_mean, old.tool_calls_mean),
            ("latency", case.latency_s_mean, old.latency_s_mean),
        ):
            if now > then * (1 + tolerance) and now - then > 1e-9:
                case.worse.append(f"{label} {then:.4g} -> {now:.4g}")


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return statistics.fmean(items) if items else 0.0
