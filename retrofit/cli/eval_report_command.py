"""`retrofit eval report` — drift from the audit trail: recorded agent runs scored per model, prompt
version or workflow type, the current window against the previous one (see `retrofit/evals/drift/`).

Reads the store only (no migration, no Temporal). Exit status: 0, or 3 with `--fail-on-drift` when
something moved past a threshold, or 1 when the request or the store is wrong.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from retrofit.audit.store import AuditStore
from retrofit.audit.url import sqlite_file
from retrofit.cli.output import console, err_console, fail
from retrofit.evals.drift.compare import Thresholds
from retrofit.evals.drift.render import report_json, report_table
from retrofit.evals.drift.report import (
    DriftReport,
    GroupBy,
    ReportError,
    Window,
    drift_report,
    parse_time,
    windows,
)
from retrofit.settings import RetrofitSettings

# Distinct from 1 (a bad request, an unreadable store), so CI can tell drift from breakage.
EXIT_DRIFT = 3


async def _read(url: str, current: Window, previous: Window, by: GroupBy, limits: Thresholds) -> DriftReport:
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise ReportError(f"no audit store at {path}: nothing has been recorded there yet")
    try:
        store = await AuditStore.open(url, migrate=False)
    except Exception as exc:
        raise ReportError(f"cannot open the audit store: {type(exc).__name__}") from exc
    async with store:
        try:
            records = store.iter_records()
            return await drift_report(records, current=current, previous=previous, by=by, thresholds=limits)
        except SQLAlchemyError as exc:  # not an audit store, or one a newer Retrofit migrated
            raise ReportError(f"cannot read the audit store: {type(exc).__name__}") from exc
        except ValidationError as exc:  # a record of a kind or shape this version does not know
            raise ReportError(
                f"the audit store holds a record this version cannot read ({exc.title})"
            ) from exc


def report(
    since: str | None = typer.Option(None, "--since", help="Start of the current window (ISO date, UTC)."),
    until: str | None = typer.Option(None, "--until", help="End of the current window (default: now)."),
    window: float | None = typer.Option(None, "--window", help="Window length in days (default 7)."),
    by: GroupBy = typer.Option(
        GroupBy.MODEL, "--by", help="Group runs by model, prompt hash or workflow type."
    ),
    output: str = typer.Option("table", "--format", help="table or json."),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help=f"Exit {EXIT_DRIFT} when drift is flagged."
    ),
    db: str | None = typer.Option(None, "--db", help="Audit store URL (default: RETROFIT_AUDIT_DB_URL)."),
    min_runs: int = typer.Option(5, "--min-runs", help="Runs needed in each window before flagging."),
    answered_drop: float = typer.Option(
        10.0, "--max-answered-drop", help="Points the answered rate may fall."
    ),
    invalid_rise: float = typer.Option(
        5.0, "--max-invalid-rise", help="Points the invalid-argument rate may rise."
    ),
    refusal_rise: float = typer.Option(5.0, "--max-refusal-rise", help="Points the refusal rate may rise."),
    rejection_rise: float = typer.Option(
        10.0, "--max-rejection-rise", help="Points the approval rejection rate may rise."
    ),
    cost_rise: float = typer.Option(25.0, "--max-cost-rise", help="Percent the cost per turn may rise."),
    tokens_rise: float = typer.Option(
        25.0, "--max-tokens-rise", help="Percent the tokens per turn may rise."
    ),
    latency_rise: float = typer.Option(
        50.0, "--max-latency-rise", help="Percent the p95 turn latency may rise."
    ),
    latency_floor: float = typer.Option(
        50.0, "--latency-floor-ms", help="A p95 rise smaller than this many ms is not drift."
    ),
) -> None:
    """Score recorded agent runs from the audit trail and flag drift against the previous window."""
    if output not in ("table", "json"):
        fail(f"--format must be table or json, not {output!r}")
    try:
        limits = Thresholds(
            answered_drop_points=answered_drop,
            invalid_rise_points=invalid_rise,
            refusal_rise_points=refusal_rise,
            rejection_rise_points=rejection_rise,
            cost_rise_percent=cost_rise,
            tokens_rise_percent=tokens_rise,
            latency_rise_percent=latency_rise,
            latency_floor_ms=latency_floor,
            min_runs=min_runs,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        fail(f"bad threshold: {problems}")
        return
    try:
        end = parse_time(until, "--until") if until is not None else datetime.now(UTC)
        start = parse_time(since, "--since") if since is not None else None
        current, previous = windows(end, start, window)
        url = db or RetrofitSettings().audit_db_url
        drift = asyncio.run(_read(url, current, previous, by, limits))
    except ReportError as exc:
        fail(str(exc))
        return
    if output == "json":
        print(report_json(drift))
    else:
        console.print(report_table(drift))
    if drift.flagged and fail_on_drift:
        flagged = sum(1 for group in drift.groups if group.flags)
        err_console.print(f"drift flagged in {flagged} of {len(drift.groups)} groups")
        raise typer.Exit(EXIT_DRIFT)
