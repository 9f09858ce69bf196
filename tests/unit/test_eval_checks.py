"""The eval harness's pure parts: trajectory and answer checks, named predicates, the gate and its
baseline comparison, JUnit XML, and the TOML a recording is written as."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from retrofit.agent.contracts import AgentTaskResult, StopReason, Usage
from retrofit.audit.events import Actor, ActorKind, AuditKind, AuditRecord
from retrofit.evals.checks import AnswerCheck, Call, TrajectoryCheck, answer_problems, trajectory_problems
from retrofit.evals.gate import build_report, case_report
from retrofit.evals.judge import JudgeResult, verdict_of
from retrofit.evals.junit import junit_xml
from retrofit.evals.record import recorded_script, toml_document, write_recording
from retrofit.evals.runner import ScenarioScore
from retrofit.evals.scenario import Scenario, ScenarioError, load_scenarios
from retrofit.llm.contracts import LlmResponse

LIST = Call(action="erp.list_invoices", arguments={"overdue_only": True, "page": 1}, executed=True)
SEARCH = Call(action="crm.search_accounts", arguments={"query": "Kestrel"}, executed=True)
NOTE = Call(
    action="crm.add_note", arguments={"account_id": "A-2005", "body": "INV-10014 overdue"}, executed=True
)
REFUSED = Call(action="erp.void_invoice", arguments=None, executed=False)


def check(**raw: Any) -> TrajectoryCheck:
    return TrajectoryCheck.model_validate(raw)


def test_exact_subsequence_and_set_orders() -> None:
    calls = [LIST, SEARCH, NOTE]
    steps = [{"action": "erp.list_invoices"}, {"action": "crm.add_note"}]
    assert trajectory_problems(check(order="subsequence", steps=steps), calls, 3, 4) == []
    assert trajectory_problems(check(order="exact", steps=steps), calls, 3, 4)  # search is extra
    reversed_steps = list(reversed(steps))
    assert trajectory_problems(check(order="subsequence", steps=reversed_steps), calls, 3, 4)
    all_three = [{"action": c.action} for c in reversed(calls)]
    assert trajectory_problems(check(order="set", steps=all_three), calls, 3, 4) == []
    assert trajectory_problems(check(order="set", steps=steps), calls, 3, 4)  # search is outside the set
    assert (
        trajectory_problems(check(order="exact", steps=[{"action": c.action} for c in calls]), calls, 3, 4)
        == []
    )


def test_proposed_includes_refused_calls_and_executed_does_not() -> None:
    calls = [LIST, REFUSED]
    steps = [{"action": "erp.list_invoices"}, {"action": "erp.void_invoice"}]
    assert trajectory_problems(check(of="proposed", order="exact", steps=steps), calls, 2, 3) == []
    assert trajectory_problems(check(of="executed", order="exact", steps=steps), calls, 2, 3)


def test_arguments_exact_subset_and_predicates() -> None:
    calls = [NOTE]
    subset = [{"action": "crm.add_note", "arguments": {"account_id": "A-2005"}}]
    assert trajectory_problems(check(steps=subset), calls, 1, 2) == []
    exact = [{"action": "crm.add_note", "arguments": {"account_id": "A-2005"}, "arguments_match": "exact"}]
    assert trajectory_problems(check(steps=exact), calls, 1, 2)
    wrong = [{"action": "crm.add_note", "arguments": {"account_id": "A-2001"}}]
    assert trajectory_problems(check(steps=wrong), calls, 1, 2)
    matches = [
        {"action": "crm.add_note", "predicate": "matches", "params": {"field": "body", "pattern": r"INV-\d+"}}
    ]
    assert trajectory_problems(check(steps=matches), calls, 1, 2) == []
    # A predicate that cannot judge (no field given, a bad pattern) says no rather than raising.
    broken = [{"action": "crm.add_note", "predicate": "matches", "params": {"pattern": "x"}}]
    assert trajectory_problems(check(steps=broken), calls, 1, 2)
    between = [{"action": "erp.list_invoices", "predicate": "between", "params": {"field": "page", "max": 2}}]
    assert trajectory_problems(check(steps=between), [LIST], 1, 2) == []
    with pytest.raises(ValueError, match="unknown predicate"):
        check(steps=[{"action": "crm.add_note", "predicate": "no_such"}])


def test_set_order_finds_the_assignment_a_greedy_pass_misses() -> None:
    loose = Call(action="crm.add_note", arguments={"account_id": "A-2005", "body": "x"}, executed=True)
    steps = [
        {"action": "crm.add_note"},  # would take the first call greedily
        {"action": "crm.add_note", "arguments": {"body": "INV-10014 overdue"}},
    ]
    assert trajectory_problems(check(order="set", steps=steps), [NOTE, loose], 2, 3) == []


def test_call_and_turn_budgets() -> None:
    problems = trajectory_problems(check(max_calls=2, max_turns=3), [LIST], 5, 4)
    assert problems == ["5 tool calls, budget 2", "4 model turns, budget 3"]


def test_answer_checks() -> None:
    assert answer_problems(AnswerCheck(exact="Done."), "  Done.\n", None) == []
    assert answer_problems(AnswerCheck(exact="Done."), "Done!", None)
    assert (
        answer_problems(AnswerCheck(contains=["INV-10014"], not_contains=["void"]), "INV-10014 noted", None)
        == []
    )
    assert len(answer_problems(AnswerCheck(contains=["A", "B"], not_contains=["void"]), "A void", None)) == 2
    schema = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}
    assert answer_problems(AnswerCheck(json_schema=schema), '{"total": 3}', None) == []
    assert answer_problems(AnswerCheck(json_schema=schema), "", {"total": 3}) == []
    assert answer_problems(AnswerCheck(json_schema=schema), '{"total": "3"}', None)
    assert answer_problems(AnswerCheck(json_schema=schema), "not json at all", None)
    with pytest.raises(ValueError):
        AnswerCheck(json_schema={"type": "array"})


def _score(name: str, passed: bool, tokens: int = 100, latency: float = 1.0) -> ScenarioScore:
    return ScenarioScore(
        name=name,
        passed=passed,
        status="answered",
        expected_status="answered",
        actions_correct=passed,
        executed=[],
        approvals=0,
        forbidden_attempted=0,
        forbidden_executed=0,
        unapproved_writes=0,
        refusals=0,
        refusals_recorded=0,
        model_turns=2,
        tokens=tokens,
        cost_usd=0.0,
        latency_s=latency,
        scripted=True,
        problems=[] if passed else ["ran [], expected ['x']"],
        model_s=0.2,
        framework_s=latency - 0.2,
    )


def test_gate_thresholds_per_case_and_overall() -> None:
    flaky = case_report(
        "flaky", "", [_score("flaky", True), _score("flaky", True), _score("flaky", False)], 0.6
    )
    solid = case_report("solid", "", [_score("solid", True)] * 3, 1.0)
    assert flaky.passed and round(flaky.pass_rate, 2) == 0.67
    report = build_report([flaky, solid], model="m", scripted=True, repeat=3)
    assert report.gate.passed and report.passed_runs == 5 and report.runs == 6
    strict = build_report([flaky, solid], model="m", scripted=True, repeat=3, min_pass_rate=0.9)
    assert not strict.gate.passed and "overall pass rate 0.83 < 0.90" in strict.gate.reasons
    below = case_report("flaky", "", [_score("flaky", True), _score("flaky", False)], 0.6)
    assert not build_report([below], model="m", scripted=True, repeat=2).gate.passed


def test_baseline_flags_regressions_and_worse_cases() -> None:
    before = build_report(
        [case_report("a", "", [_score("a", True)], 1.0), case_report("b", "", [_score("b", True)], 1.0)],
        model="m",
        scripted=True,
        repeat=1,
    )
    stored = type(before).model_validate_json(before.model_dump_json())  # as read back from a file
    now = build_report(
        [
            case_report("a", "", [_score("a", True, tokens=200, latency=1.1)], 1.0),
            case_report(
                "b", "", [_score("b", False)], 0.0
            ),  # its own threshold holds; the baseline's does not
            case_report("new", "", [_score("new", True)], 1.0),
        ],
        model="m",
        scripted=True,
        repeat=1,
        baseline=stored,
        baseline_name="base.json",
    )
    cases = {c.name: c for c in now.cases}
    assert cases["a"].regression is None and cases["a"].worse == ["tokens 100 -> 200"]
    assert cases["b"].regression == "pass rate 1.00 -> 0.00"
    assert cases["new"].regression is None
    assert not now.gate.passed and now.gate.reasons == ["b: regression: pass rate 1.00 -> 0.00"]


def test_junit_xml_is_well_formed_with_hostile_names() -> None:
    hostile = 'x"><script>\x00\x1b[31m</testcase>]]>'
    case = case_report(hostile, "evals/x.toml", [_score(hostile, False)], 1.0)
    ok = case_report("fine", "", [_score("fine", True)], 1.0)
    xml = junit_xml(build_report([case, ok], model="m\x07", scripted=True, repeat=1))
    suite = ET.fromstring(xml)
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert cases[0].find("failure") is not None and cases[1].find("failure") is None
    assert "<script>" in (cases[0].get("name") or "")  # escaped on the way in, intact on the way out


def test_recorded_toml_reads_back_the_same(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "name": 'quote " backslash \\ tab \t newline \n bell \x07 é 😀 lone \ud800',
        "goal": "g",
        "allowed_actions": ["erp.get_invoice"],
        "budget": {"max_steps": 3, "max_cost_usd": 0.5},
        "setup": [
            {"action": "crm.add_note", "arguments": {"body": "]] = [x", "nested": {"k y": [1, 2.5, True]}}}
        ],
        "expect": {"status": "answered", "min_pass_rate": 1e-05},
        "model": {"script": "x.json"},
    }
    back = tomllib.loads(toml_document(data))
    assert back["name"] == data["name"].replace("\ud800", "\ufffd")
    assert back["setup"] == data["setup"] and back["budget"] == data["budget"]
    assert back["expect"]["min_pass_rate"] == 1e-05


def test_a_model_script_must_sit_beside_its_scenario(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    scenario = tmp_path / "sub" / "s.toml"
    for target in ("../outside.json", "/etc/passwd", "s.toml"):
        scenario.write_text(
            f'name = "s"\ngoal = "g"\nallowed_actions = ["erp.get_invoice"]\n[model]\nscript = "{target}"\n'
        )
        with pytest.raises(ScenarioError, match="beside the scenario"):
            load_scenarios([scenario])
    scenario.write_text(
        'name = "s"\ngoal = "g"\nallowed_actions = ["erp.get_invoice"]\n[model]\nscript = "missing.json"\n'
    )
    with pytest.raises(ScenarioError, match=r"missing\.json"):
        load_scenarios([scenario])
    (tmp_path / "sub" / "ok.json").write_text('{"model": "x-scripted", "turns": [{"content": "hi"}]}')
    scenario.write_text(
        'name = "s"\ngoal = "g"\nallowed_actions = ["erp.get_invoice"]\n[model]\nscript = "ok.json"\n'
    )
    assert load_scenarios([scenario])[0].model.turns[0].content == "hi"


def _judged(content: str | None) -> JudgeResult:
    return verdict_of(
        LlmResponse(content=content, model="judge-scripted", prompt_tokens=10, completion_tokens=5), 0.7
    )


def test_the_judge_passes_only_a_readable_verdict_at_or_over_the_bar() -> None:
    assert _judged('{"score": 0.9, "reasoning": "ok"}').passed
    assert _judged('```json\n{"score": 0.7}\n```').passed
    low = _judged('{"score": 0.2, "reasoning": "misses the customer"}')
    assert not low.passed and low.problem is not None and "0.20 < 0.70" in low.problem
    for unreadable in (None, "", "PASS", '{"score": 1.5}', '{"score": "high"}', 'Sure! {"score": 1}', "[1]"):
        verdict = _judged(unreadable)
        assert not verdict.passed and verdict.problem is not None and "no verdict" in verdict.problem
    assert _judged('{"score": 1}').tokens == 15


def test_two_scenarios_that_slug_alike_are_recorded_apart(tmp_path: Path) -> None:
    raw = {"goal": "g", "allowed_actions": ["erp.get_invoice"]}
    score = _score("x", True)
    taken: set[str] = set()
    paths = [
        write_recording(
            tmp_path, Scenario.model_validate({**raw, "name": name}), score, [], None, taken=taken
        )
        for name in ("Chase!", "chase", "../../etc")
    ]
    assert [p.name for p in paths] == ["chase.toml", "chase-2.toml", "etc.toml"]
    assert all(p.parent == tmp_path for p in paths)
    back = load_scenarios([paths[1]])[0]
    assert back.name == "chase" and back.model.turns == []


def test_the_judge_workflow_module_imports_no_io_library() -> None:
    # It runs in the workflow sandbox (DESIGN.md: the determinism boundary); its model call is an activity.
    forbidden = ("httpx", "httpx2", "sqlalchemy", "zeep", "openai", "aiosqlite", "uvicorn", "starlette")
    probe = (
        "import importlib, json, sys\n"
        "importlib.import_module('retrofit.evals.judge')\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def _decision(seq: int, content: str, calls: list[dict[str, str]]) -> AuditRecord:
    return AuditRecord(
        event_id=f"e{seq}",
        kind=AuditKind.LLM_DECISION,
        actor=Actor(kind=ActorKind.AGENT, name="m"),
        workflow_id="wf",
        run_id="r",
        seq=seq,
        recorded_at=datetime.now(UTC),
        prev_hash="",
        hash="",
        data={"content": content, "tool_calls": calls},
    )


def test_a_recorded_script_keeps_calls_raw_and_the_full_answer() -> None:
    records = [
        _decision(3, "", [{"name": "erp.get invoice", "arguments": '{"invoice_id": '}]),
        _decision(1, "let me look", [{"name": "erp__get_invoice", "arguments": '{"invoice_id": "INV-1"}'}]),
        _decision(5, "x" * 600, []),  # the audit record keeps the first 600 characters
    ]
    answer = "x" * 900
    result = AgentTaskResult(
        status=StopReason.ANSWERED, answer=answer, usage=Usage(), tools=[], model="m", scripted=False
    )
    script, notes = recorded_script(records, result, "recorded-x-scripted")
    first, second, last = script.turns
    assert (
        first.content is None and first.tool_calls[0].raw_arguments == '{"invoice_id": "INV-1"}'
    )  # in seq order
    assert (
        second.tool_calls[0].name == "erp_get_invoice"
        and second.tool_calls[0].raw_arguments == '{"invoice_id": '
    )
    assert notes == ["turn 2: tool name 'erp.get invoice' played as 'erp_get_invoice'"]
    assert last.content == answer
