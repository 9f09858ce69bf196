"""The drift report on records a test wrote through the store's real append API (with the times it
chose): exact rates, window edges, id reuse, runs still going, and hostile record contents
(markup, escapes and newlines in a model name; text, negative and boolean numbers). The command
line's refusals of bad requests, each as one line and exit 1."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind
from retrofit.audit.store import AuditStore
from retrofit.cli.app import app
from retrofit.evals.drift.compare import Thresholds
from retrofit.evals.drift.report import GroupBy, drift_report, windows
from retrofit.evals.drift.scoring import percentile
from tests.e2e.test_dev_server_cli import Cli

UNTIL = datetime(2026, 11, 30, tzinfo=UTC)
NOW = UNTIL - timedelta(days=2)  # in the current window
BEFORE = UNTIL - timedelta(days=9)  # in the previous one
SECRET_GOAL = "Pay IBAN DE89370400440532013000 for anna.becker@nordwind.example"
HOSTILE_MODEL = "[bold red]evil[/]\x1b[31m\nsecond line\u202e"


class Trail:
    """Agent runs as the workflow and the LLM activity record them, written with `append`."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def _add(
        self, kind: AuditKind, wf: str, suffix: str, data: dict[str, Any], *, step: int | None = None
    ) -> None:
        self.events.append(
            AuditEvent(
                event_id=f"{wf}/{suffix}/{len(self.events)}",
                kind=kind,
                actor=Actor(kind=ActorKind.AGENT, name="agent"),
                workflow_id=wf,
                run_id=f"{wf}-run",
                workflow_type="AgentTask",
                step=step,
                data=data,
                occurred_at=self._at,
            )
        )

    def run(
        self,
        wf: str,
        at: datetime,
        *,
        model: str = "gpt-x",
        status: str | None = "answered",
        turns: list[dict[str, Any]] | None = None,
        refused: int = 0,
        invalid: int = 0,
        approvals: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        self._at = at
        self._add(
            AuditKind.AGENT_STARTED, wf, "started", {"goal": SECRET_GOAL, "model": {"model": None}}, step=0
        )
        for step, turn in enumerate(turns or [{}], start=1):
            attempt = {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "cost_usd": 0.001,
                **turn.get("attempt", {}),
            }
            self._add(AuditKind.LLM_ATTEMPT, wf, "attempt", attempt, step=step)
            decision = {
                "model": model,
                "prompt_hash": f"{step}abc" * 16,
                "tool_calls": [{"name": "erp__get_invoice", "arguments": "{}"}] * turn.get("calls", 1),
                "latency_ms": turn.get("latency_ms", 100.0),
            }
            self._add(AuditKind.LLM_DECISION, wf, "decision", decision, step=step)
        for kind, count in (
            (AuditKind.AGENT_TOOL_REFUSED, refused),
            (AuditKind.INVALID, invalid),
            (AuditKind.APPROVAL_REQUESTED, approvals[0]),
            (AuditKind.APPROVAL_REJECTED, approvals[1]),
            (AuditKind.APPROVAL_EXPIRED, approvals[2]),
        ):
            for n in range(count):
                self._add(kind, wf, f"{kind.value}{n}", {"arguments": SECRET_GOAL})
        if status is not None:
            self._add(
                AuditKind.AGENT_FINISHED,
                wf,
                "finished",
                {"status": status, "model": model, "answer": SECRET_GOAL},
            )

    async def store(self, tmp_path: Path) -> str:
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        async with await AuditStore.open(url) as store:
            assert await store.append(self.events) == len(self.events)
        return url


async def _report(url: str, by: GroupBy = GroupBy.MODEL, **limits: Any) -> Any:
    current, previous = windows(UNTIL, None, 7)
    async with await AuditStore.open(url, migrate=False) as store:
        return await drift_report(
            store.iter_records(), current=current, previous=previous, by=by, thresholds=Thresholds(**limits)
        )


async def test_rates_are_exact_and_each_has_its_own_denominator(tmp_path: Path) -> None:
    trail = Trail()
    # Before: 5 runs, all answered, 2 calls each, no trouble.
    for n in range(5):
        trail.run(f"b{n}", BEFORE + timedelta(minutes=n), turns=[{"calls": 2}, {"calls": 0}])
    # Now: 5 runs; 2 stop, 1 is still going; refusals, invalid calls and rejections appear.
    trail.run("n0", NOW, turns=[{"calls": 2}, {"calls": 0}], refused=1, approvals=(2, 1, 1))
    trail.run("n1", NOW, turns=[{"calls": 2}, {"calls": 0}], invalid=1)
    trail.run("n2", NOW, status="too_many_errors", turns=[{"calls": 3}], invalid=3)
    trail.run("n3", NOW, status="budget_steps", turns=[{"calls": 1, "attempt": {"cost_usd": None}}])
    trail.run("n4", NOW, status=None, turns=[{"calls": 2, "latency_ms": 900.0}])
    url = await trail.store(tmp_path)

    report = await _report(url)
    (group,) = report.groups
    now, before = group.current, group.previous
    assert before.runs == before.answered == before.finished == 5 and before.tool_calls == 10
    assert now.runs == 5 and now.finished == 4 and now.answered == 2  # the running one is not a stop
    assert now.answered_rate == 0.5 and now.stopped == {"budget_steps": 1, "too_many_errors": 1}
    assert now.tool_calls == 10 and now.refused == 1 and now.refusal_rate == 0.1
    assert now.invalid == 4 and now.invalid_rate == 0.4
    assert (now.approvals_requested, now.approvals_rejected, now.approvals_expired) == (2, 1, 1)
    assert now.rejection_rate == 0.5 and before.rejection_rate is None
    assert now.turns == 7 and now.tokens == 7 * 120 and now.tokens_per_turn == 120
    assert now.tokens_p50 == now.tokens_p95 == 120 and now.cost_p50_usd == now.cost_p95_usd == 0.001
    assert now.unpriced_turns == 1 and now.cost_usd == pytest.approx(0.006)
    assert now.latency_p50_ms == 100.0 and now.latency_p95_ms == 900.0
    metrics = {flag.metric: flag.change for flag in group.flags}
    assert metrics == {
        "answered rate": "-50.0 points",
        "invalid-argument rate": "+40.0 points",
        "refusal rate": "+10.0 points",
        "p95 latency per turn": "+800.0 %",
    }
    # Cost per turn fell (an unpriced turn costs 0 here): a fall is not drift.
    assert now.cost_per_turn is not None and before.cost_per_turn is not None
    assert now.cost_per_turn < before.cost_per_turn

    # Thresholds are limits on the change, exceeded strictly; a floor keeps fast turns' wobble out.
    loose = await _report(url, answered_drop_points=50, invalid_rise_points=40, refusal_rise_points=10)
    assert {f.metric for f in loose.groups[0].flags} == {"p95 latency per turn"}
    floor = await _report(
        url, answered_drop_points=50, invalid_rise_points=40, refusal_rise_points=10, latency_floor_ms=800
    )
    assert floor.groups[0].flags == [] and not floor.flagged


async def test_window_edges_id_reuse_and_runs_outside_both_windows(tmp_path: Path) -> None:
    current, previous = windows(UNTIL, None, 7)
    trail = Trail()
    trail.run("edge-start", current.start)  # the first instant of the current window belongs to it
    trail.run("edge-end", UNTIL, status="too_many_errors")  # the window's end does not
    trail.run("old", previous.start - timedelta(seconds=1), status="too_many_errors")
    trail.run("prev", previous.start)
    # One workflow id used twice: two runs, each with its own records.
    trail.run("reused", BEFORE, status="model_failed")
    trail.run("reused", NOW, status="answered")
    url = await trail.store(tmp_path)

    report = await _report(url, min_runs=1)
    (group,) = report.groups
    assert (group.previous.runs, group.previous.answered) == (2, 1)
    assert group.previous.stopped == {"model_failed": 1}
    assert (group.current.runs, group.current.answered, group.current.stopped) == (2, 2, {})
    assert [f.metric for f in group.flags] == []  # it got better
    assert group.current.turns == 2 and group.previous.turns == 2


async def test_hostile_record_contents_print_as_plain_text_and_the_goal_never(tmp_path: Path) -> None:
    trail = Trail()
    bad_numbers = {"prompt_tokens": "lots", "completion_tokens": -50, "cost_usd": True}
    for n in range(5):
        trail.run(f"b{n}", BEFORE, model=HOSTILE_MODEL)
        trail.run(f"n{n}", NOW, model=HOSTILE_MODEL, turns=[{"attempt": bad_numbers, "latency_ms": "slow"}])
    url = await trail.store(tmp_path)

    report = await _report(url)
    (group,) = report.groups
    assert "\x1b" not in group.group and "\n" not in group.group and "\u202e" not in group.group
    assert group.group == "[bold red]evil[/]?[31m?second line?"
    now = group.current
    # Text, booleans and negatives are no numbers: counted as nothing, the cost as unpriced.
    assert now.tokens == 0 and now.unpriced_turns == 5 and now.latency_p95_ms is None
    assert not group.flags  # nothing to compare latency with, and tokens/cost fell

    cli = Cli({**os.environ, "RETROFIT_AUDIT_DB_URL": url, "COLUMNS": "250"})
    code, out, err = await cli("eval", "report", "--until", UNTIL.isoformat(), "--fail-on-drift")
    assert code == 0, err
    assert "[bold red]evil[/]?[31m?second line?" in out  # shown as written, not as markup
    assert "\x1b" not in out and "IBAN" not in out and "anna.becker" not in out and "DE89" not in out
    assert "$/turn ending in +" in out


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.95) is None
    assert percentile([7.0], 0.5) == percentile([7.0], 0.95) == 7.0
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.5) == 10.0 and percentile(values, 0.95) == 19.0
    assert percentile(list(reversed(values)), 1.0) == 20.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "next tuesday"], "--until: 'next tuesday' is not an ISO date"),
        (["--since", "2026-12-02", "--until", "2026-12-01"], "--since must be before --until"),
        (["--since", "2026-11-01", "--window", "3"], "give --since or --window, not both"),
        (["--window", "0"], "--window must be more than 0"),
        (["--window", "nan"], "--window must be more than 0"),
        (["--format", "xml"], "--format must be table or json"),
        (["--max-cost-rise", "-1"], "bad threshold: cost_rise_percent"),
        (["--min-runs", "0"], "bad threshold: min_runs"),
        (["--until", "0001-01-03"], "the windows would start before the year 1"),
    ],
)
def test_bad_requests_are_one_line_and_exit_1(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(app, ["eval", "report", "--db", url, *args])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


async def test_a_missing_or_foreign_store_is_refused_and_an_empty_one_is_reported_empty(
    tmp_path: Path,
) -> None:
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    async with await AuditStore.open(empty):
        pass
    cli = Cli({**os.environ, "COLUMNS": "200"})
    code, _, err = await cli("eval", "report", "--db", missing)
    assert code == 1 and "no audit store at" in err and not (tmp_path / "missing.db").exists()
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    code, _, err = await cli("eval", "report", "--db", f"sqlite:///{foreign}")
    assert code == 1 and "cannot read the audit store: OperationalError" in err and "Traceback" not in err
    code, out, err = await cli("eval", "report", "--db", empty, "--fail-on-drift", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["groups"] == [] and not json.loads(out)["flagged"]


async def test_cost_and_tokens_per_turn_are_flagged_past_their_percentages(tmp_path: Path) -> None:
    trail = Trail()
    for n in range(5):
        trail.run(f"b{n}", BEFORE)  # 120 tokens and $0.001 a turn
        # 26 % more tokens, 24 % more cost: one past its threshold (25 %), one not.
        dearer = {"prompt_tokens": 130, "completion_tokens": 21.2, "cost_usd": 0.00124}
        trail.run(f"n{n}", NOW, turns=[{"attempt": dearer}])
        trail.run(f"m{n}", NOW, model="gpt-y", turns=[{"attempt": {"cost_usd": 0.0013}}])
        trail.run(f"c{n}", BEFORE, model="gpt-y")
    url = await trail.store(tmp_path)

    report = await _report(url)
    by_model = {group.group: group for group in report.groups}
    assert [(f.metric, f.change) for f in by_model["gpt-x"].flags] == [("tokens per turn", "+25.8 %")]
    assert [(f.metric, f.change) for f in by_model["gpt-y"].flags] == [("cost per turn", "+30.0 %")]
    assert by_model["gpt-y"].flags[0].threshold == "+25 %"
