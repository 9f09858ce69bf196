"""`retrofit eval SCENARIOS...` — score the agent on scenario files (see `retrofit/evals/scenario.py`).

Runs on its own embedded stack (free ports, temporary audit store), so it never touches a running
`retrofit dev`. Each scenario runs `--repeat` times; the gate (retrofit/evals/gate.py) holds each
case to its pass-rate threshold, the whole run to `--min-pass-rate`, and (with `--baseline`) to a
stored report. Exit status 1 when the gate does not hold.

    --format json     the full report on stdout (progress goes to stderr): store it as a baseline
    --junit FILE      JUnit XML for CI
    --json FILE       every run's score (a list), as before
    --live --record DIR   write each live conversation as a replayable scenario (retrofit/evals/record.py)
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Literal

import typer
from pydantic import ValidationError
from rich.markup import escape

from retrofit.cli.output import console, err_console, fail, run_async
from retrofit.embedded.dev_server import DevServerError
from retrofit.evals.gate import CaseReport, EvalReport, build_report, case_report
from retrofit.evals.junit import write_junit
from retrofit.evals.record import write_recording
from retrofit.evals.report import case_table, score_table
from retrofit.evals.runner import EvalError, EvalRun, ScenarioScore
from retrofit.evals.scenario import ScenarioError, load_scenarios


def eval_scenarios(
    scenarios: list[Path] = typer.Argument(..., help="Scenario files (TOML) or directories of them."),
    live: bool = typer.Option(False, "--live", help="Use the configured real model instead of the scripts."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write every run's score as JSON here."),
    repeat: int = typer.Option(1, "--repeat", min=1, max=100, help="Runs per scenario (pass rate per case)."),
    output_format: str = typer.Option("table", "--format", help="table, or json: the report on stdout."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML (for CI) here."),
    baseline: Path | None = typer.Option(None, "--baseline", help="A stored JSON report to compare with."),
    min_pass_rate: float | None = typer.Option(
        None, "--min-pass-rate", min=0.0, max=1.0, help="Overall pass rate (runs) the gate requires."
    ),
    tolerance: float = typer.Option(
        0.25, "--tolerance", min=0.0, help="Flag a case worse than the baseline by more than this share."
    ),
    record: Path | None = typer.Option(
        None, "--record", help="With --live: write each conversation as a replayable scenario here."
    ),
    predicates: list[str] = typer.Option(
        [], "--predicates", help="Import this module first (it registers trajectory predicates)."
    ),
) -> None:
    """Run agent scenarios against the demo systems, print a scored table and hold the gate."""
    if output_format not in ("table", "json"):
        fail(f"--format is table or json, not {output_format!r}")
    fmt: Literal["table", "json"] = "json" if output_format == "json" else "table"
    if record is not None and not live:
        fail("--record captures a live model's conversation: give --live too")
    for module in predicates:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            fail(f"--predicates {module}: {exc}")
    try:
        loaded = load_scenarios(scenarios)
    except ScenarioError as exc:
        fail(str(exc))
        return
    stored = _baseline(baseline) if baseline is not None else None
    # With --format json stdout is the report alone; everything else goes to stderr.
    say = err_console if fmt == "json" else console

    scores: list[ScenarioScore] = []
    cases: list[CaseReport] = []
    model_label = ""
    recorded: set[str] = set()

    async def go() -> None:
        nonlocal model_label
        async with EvalRun.started(live=live) as run:
            model_label = run.stack.model.label
            say.print(f"model: {model_label}")
            for scenario in loaded:
                runs: list[ScenarioScore] = []
                for index in range(repeat):
                    score = await run.run(scenario)
                    mark = (
                        "[green]pass[/]"
                        if score.passed
                        else "[red]FAIL[/] " + escape("; ".join(score.problems))
                    )
                    which = f" (run {index + 1}/{repeat})" if repeat > 1 else ""
                    say.print(f"{escape(scenario.name)}{which}: {mark}", highlight=False)
                    if record is not None:
                        suffix = f"-run{index + 1}" if repeat > 1 else ""
                        path = write_recording(
                            record,
                            scenario,
                            score,
                            run.last_records,
                            run.last_result,
                            suffix=suffix,
                            taken=recorded,
                        )
                        say.print(f"  recorded: {path}")
                    runs.append(score)
                scores.extend(runs)
                cases.append(case_report(scenario.name, scenario.source, runs, scenario.expect.min_pass_rate))

    run_async(go(), DevServerError, EvalError)
    report = build_report(
        cases,
        model=model_label,
        scripted=not live,
        repeat=repeat,
        min_pass_rate=min_pass_rate,
        baseline=stored,
        baseline_name=str(baseline) if baseline is not None else None,
        tolerance=tolerance,
    )
    if fmt == "json":
        print(report.model_dump_json(indent=2))
    else:
        console.print(score_table(scores, scripted=not live))
        if repeat > 1 or stored is not None:
            console.print(case_table(report))
    if json_out is not None:
        json_out.write_text(
            json.dumps([s.model_dump(mode="json") for s in scores], indent=2), encoding="utf-8"
        )
    if junit is not None:
        write_junit(report, junit)
    for case in report.cases:
        if case.worse:
            err_console.print(f"worse than the baseline: {case.name}: {', '.join(case.worse)}", markup=False)
    if not report.gate.passed:
        fail("the gate does not hold: " + "; ".join(report.gate.reasons))


def _baseline(path: Path) -> EvalReport:
    try:
        return EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"--baseline {path}: {exc.strerror}")
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"--baseline {path}: not a report from `retrofit eval --format json` ({first['msg']})")
    raise AssertionError("unreachable")
