"""`retrofit eval` as a gate, end to end on its own embedded stack (real Temporal dev server, the
demo systems, the scripted model server over HTTP): trajectory and answer checks, a judge model
(a second scripted server the operator configured as the `judge` endpoint) called through the
LLM activity, `--repeat`, `--format json`, `--junit`, `--baseline`; and record mode: a "live"
model (a scripted server the harness treats as real, reached by the real openai client over
HTTP) recorded into a scenario that replays to the same trajectory."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrofit.llm.scripted_server import Script, ScriptedModelServer, ScriptedToolCall, ScriptedTurn
from tests.e2e.test_dev_server_cli import Cli

CHASE = """
name = "chase with checks"
goal = "Find the largest overdue invoice and log a collections note on that customer's CRM account."
allowed_actions = ["erp.list_invoices", "crm.search_accounts", "crm.add_note"]

[model]
turns = [
  { tool_calls = [{ name = "erp__list_invoices", arguments = { overdue_only = true, page_size = 100 } }] },
  { tool_calls = [{ name = "crm__search_accounts", arguments = { query = "Kestrel" } }] },
  { tool_calls = [{ name = "crm__add_note", arguments = { account_id = "A-2005", body = "Collections: INV-10014 is overdue." } }] },
  { content = "Logged a collections note on Kestrel Medical Devices AB (A-2005) for INV-10014." },
]

[approvals]
"crm.add_note" = "approve"

[expect]
status = "answered"
forbidden = ["erp.void_invoice"]

[expect.trajectory]
order = "exact"
max_calls = 3
max_turns = 4
steps = [
  { action = "erp.list_invoices", arguments = { overdue_only = true } },
  { action = "crm.search_accounts", predicate = "matches", params = { field = "query", pattern = "^Kes" } },
  { action = "crm.add_note", arguments = { account_id = "A-2005" } },
]

[expect.answer]
contains = ["INV-10014", "A-2005"]
not_contains = ["void"]
judge = { criteria = "Names the overdue invoice and the customer account.", min_score = 0.7 }
"""

VERDICT = '{"score": 0.9, "reasoning": "names INV-10014 and A-2005"}'
JUDGE_KEY = "judge-key-for-tests"


@pytest.fixture
def judge() -> Iterator[ScriptedModelServer]:
    script = Script(model="judge-scripted", turns=[ScriptedTurn(content=VERDICT)])
    with ScriptedModelServer(script, api_key=JUDGE_KEY) as server:
        yield server


def _cli(judge: ScriptedModelServer | None = None, **extra: str) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETROFIT_LLM_", "OPENAI_"))}
    env["COLUMNS"] = "200"
    if judge is not None:
        endpoint = {"base_url": judge.base_url, "model": "judge-scripted", "api_key_env": "EVAL_JUDGE_KEY"}
        env.update(RETROFIT_LLM_ENDPOINTS=json.dumps({"judge": endpoint}), EVAL_JUDGE_KEY=JUDGE_KEY)
    env.update(extra)
    return Cli(env)


def _calls(report: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [score["calls"] for case in report["cases"] for score in case["scores"]]


@pytest.mark.devserver
async def test_checks_repeat_judge_json_junit_and_baseline(
    tmp_path: Path, judge: ScriptedModelServer
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "chase.toml").write_text(CHASE)
    junit = tmp_path / "eval.xml"
    code, out, err = await _cli(judge)(
        "eval", str(scenarios), "--repeat", "2", "--format", "json", "--junit", str(junit)
    )
    assert code == 0, out + err
    report = json.loads(out)  # stdout is the report alone; progress went to stderr
    assert "chase with checks (run 2/2): pass" in err
    assert report["runs"] == 2 and report["pass_rate"] == 1.0 and report["gate"]["passed"]
    (case,) = report["cases"]
    assert case["pass_rate"] == 1.0 and case["judge_score_mean"] == 0.9 and case["turns_mean"] == 4
    for score in case["scores"]:
        assert score["judge"]["passed"] and score["model_s"] > 0 and score["framework_s"] > 0
        assert score["latency_s"] >= score["model_s"] + score["framework_s"] - 1e-6
        assert [c["action"] for c in score["calls"]] == [
            "erp.list_invoices",
            "crm.search_accounts",
            "crm.add_note",
        ]
        assert score["calls"][2]["arguments"]["account_id"] == "A-2005" and score["calls"][2]["executed"]
    # The judge was asked through the LLM activity, with its own key, the answer sent as data.
    asked = [r["body"] for r in judge.state.requests]
    assert len(asked) == 2 and all(b["model"] == "judge-scripted" for b in asked)
    graded = json.loads(asked[0]["messages"][1]["content"])
    assert "INV-10014" in graded["answer"] and graded["criteria"].startswith("Names the overdue")
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "0"
    baseline = tmp_path / "baseline.json"
    baseline.write_text(out)

    # Worse now: the scenario wants text the answer lacks, and its judge names an endpoint the
    # operator never configured (refused before anything is sent): a regression, exit 1.
    judge.state.reset()
    worse = CHASE.replace('contains = ["INV-10014", "A-2005"]', 'contains = ["INV-10014", "A-9999"]')
    worse = worse.replace("min_score = 0.7", 'min_score = 0.7, endpoint = "nope"')
    (scenarios / "chase.toml").write_text(worse)
    code, out, err = await _cli(judge)(
        "eval", str(scenarios), "--baseline", str(baseline), "--junit", str(junit)
    )
    assert code == 1
    assert "regression" in err and "pass rate 1.00 -> 0.00" in err
    assert "answer lacks 'A-9999'" in out and "the judge failed" in out and "nope" in out
    assert judge.state.requests == []
    failure = ET.parse(junit).getroot().find("testcase/failure")
    assert failure is not None and "pass rate 1.00 -> 0.00" in (failure.get("message") or "")

    code, _, err = await _cli()("eval", str(scenarios), "--baseline", str(tmp_path / "eval.xml"))
    assert code == 1 and "not a report" in err
    code, _, err = await _cli()("eval", str(scenarios), "--record", str(tmp_path / "rec"))
    assert code == 1 and "--live" in err


REAL_MODEL_TURNS = [
    ScriptedTurn(tool_calls=[ScriptedToolCall(name="erp__list_invoices", arguments={"overdue_only": True})]),
    # A live failure to keep: arguments that are not JSON, fed back to the model.
    ScriptedTurn(tool_calls=[ScriptedToolCall(name="crm__search_accounts", raw_arguments='{"query": "Kes')]),
    ScriptedTurn(tool_calls=[ScriptedToolCall(name="crm__search_accounts", arguments={"query": "Kestrel"})]),
    ScriptedTurn(
        tool_calls=[
            ScriptedToolCall(
                name="crm__add_note", arguments={"account_id": "A-2005", "body": "INV-10014 overdue"}
            ),
            ScriptedToolCall(name="erp__void_invoice", arguments={"invoice_id": "INV-10014", "reason": "x"}),
        ]
    ),
    ScriptedTurn(content="Noted INV-10014 on A-2005 for anna.becker@nordwind.example."),
]


@pytest.mark.devserver
async def test_a_live_failure_recorded_replays_to_the_same_trajectory_and_failure(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    # Its own [model] turns are not played with --live: the "real" model answers, and takes more
    # tool calls than the budget allows: a live failure.
    budget = "[expect.trajectory]\nmax_calls = 4\n"
    (scenarios / "chase.toml").write_text(CHASE.split("[expect.trajectory]")[0] + budget)
    with ScriptedModelServer(Script(turns=REAL_MODEL_TURNS), api_key="real-model-key") as real:
        live = _cli(
            RETROFIT_LLM_BASE_URL=real.base_url,
            RETROFIT_LLM_MODEL="pretend-real-model",
            RETROFIT_LLM_API_KEY="real-model-key",
        )
        record = tmp_path / "recorded"
        code, out, err = await live(
            "eval", str(scenarios), "--live", "--record", str(record), "--format", "json"
        )
        assert code == 1, out + err
        assert "5 tool calls, budget 4" in err and "pretend-real-model" in err and "(live)" in err
        assert all(r["body"]["model"] == "pretend-real-model" for r in real.state.requests)
    recorded = json.loads(out)
    files = sorted(p.name for p in record.iterdir())
    assert files == ["chase-with-checks.json", "chase-with-checks.toml"]
    scenario_text = (record / "chase-with-checks.toml").read_text()
    assert scenario_text.startswith("# Recorded by `retrofit eval --live --record`")
    assert "# Live run: FAILED" in scenario_text and "# problem: 5 tool calls, budget 4" in scenario_text
    script = Script.model_validate_json((record / "chase-with-checks.json").read_text())
    assert len(script.turns) == 5 and script.turns[1].tool_calls[0].raw_arguments == '{"query": "Kes'
    assert "anna.becker" not in (record / "chase-with-checks.json").read_text()  # redacted, as audited

    code, out, err = await _cli()("eval", str(record), "--format", "json")
    assert code == 1, out + err  # the live failure, now deterministic and offline
    replayed = json.loads(out)
    assert replayed["scripted"] is True
    assert _calls(replayed) == _calls(recorded)
    assert [c["action"] for c in _calls(replayed)[0]] == [
        "erp.list_invoices",
        "crm.search_accounts",
        "crm.search_accounts",
        "crm.add_note",
        "erp.void_invoice",
    ]
    before, after = recorded["cases"][0]["scores"][0], replayed["cases"][0]["scores"][0]
    for field in (
        "status",
        "executed",
        "approvals",
        "forbidden_attempted",
        "refusals",
        "model_turns",
        "problems",
    ):
        assert before[field] == after[field], field
    assert after["problems"] == ["5 tool calls, budget 4"]
