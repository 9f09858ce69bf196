"""`retrofit eval SCENARIOS...` — score the agent on scenario files (see `retrofit/evals/scenario.py`).

Runs on its own embedded stack (free ports, temporary audit store), so it never touches a running
`retrofit dev`. Exit status 1 when any scenario fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from retrofit.cli.output import console, fail, run_async
from retrofit.embedded.dev_server import DevServerError
from retrofit.evals.report import score_table
from retrofit.evals.runner import EvalError, EvalRun, ScenarioScore
from retrofit.evals.scenario import ScenarioError, load_scenarios


def eval_scenarios(
    scenarios: list[Path] = typer.Argument(..., help="Scenario files (TOML) or directories of them."),
    live: bool = typer.Option(False, "--live", help="Use the configured real model instead of the scripts."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the scores as JSON here."),
) -> None:
    """Run agent scenarios against the demo systems and print a scored table."""
    try:
        loaded = load_scenarios(scenarios)
    except ScenarioError as exc:
        fail(str(exc))
        return

    scores: list[ScenarioScore] = []

    async def go() -> None:
        async with EvalRun.started(live=live) as run:
            console.print(f"model: {run.stack.model.label}")
            for scenario in loaded:
                score = await run.run(scenario)
                mark = "[green]pass[/]" if score.passed else "[red]FAIL[/] " + "; ".join(score.problems)
                console.print(f"{scenario.name}: {mark}")
                scores.append(score)

    run_async(go(), DevServerError, EvalError)
    console.print(score_table(scores, scripted=not live))
    if json_out is not None:
        json_out.write_text(
            json.dumps([s.model_dump(mode="json") for s in scores], indent=2), encoding="utf-8"
        )
    if not all(s.passed for s in scores):
        fail(f"{sum(1 for s in scores if not s.passed)} of {len(scores)} scenarios failed")
