"""`retrofit eval` as a group: `report` beside the scenario harness, whose old spelling
(`retrofit eval SCENARIOS... [options]`, options first or last) still reaches it as `run`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrofit.cli.app import app


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "{missing}"],
        ["eval", "--live", "{missing}"],
        ["eval", "{missing}", "--live"],
        ["eval", "run", "{missing}"],
    ],
)
def test_scenario_paths_still_go_to_the_harness(tmp_path: Path, args: list[str]) -> None:
    missing = str(tmp_path / "no-such-scenarios")
    result = CliRunner().invoke(app, [a.format(missing=missing) for a in args])
    assert result.exit_code == 1, result.output
    assert "no such file or directory" in result.output


def test_help_names_both_commands() -> None:
    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    assert "run" in result.output and "report" in result.output
    report = CliRunner().invoke(app, ["eval", "report", "--help"])
    assert report.exit_code == 0 and "--fail-on-drift" in report.output
