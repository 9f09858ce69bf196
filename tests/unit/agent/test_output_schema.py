"""Structured final answers checked against the task's JSON schema, in workflow code."""

from __future__ import annotations

from pydantic import BaseModel, Field

from retrofit.agent.output_schema import parse_answer


class FollowUp(BaseModel):
    invoice_id: str
    amount: float = Field(ge=0)


class Report(BaseModel):
    follow_ups: list[FollowUp]
    status: str = Field(pattern="^(done|partial)$")


SCHEMA = Report.model_json_schema()


def test_a_pydantic_schema_with_refs_accepts_a_matching_answer() -> None:
    parsed, problem = parse_answer(
        '{"follow_ups": [{"invoice_id": "INV-1", "amount": 3}], "status": "done"}', SCHEMA
    )
    assert problem is None and parsed is not None and parsed["follow_ups"][0]["invoice_id"] == "INV-1"


def test_fenced_json_is_accepted() -> None:
    parsed, problem = parse_answer('```json\n{"follow_ups": [], "status": "done"}\n```', SCHEMA)
    assert problem is None and parsed == {"follow_ups": [], "status": "done"}


def test_problems_are_named_for_the_model() -> None:
    _, problem = parse_answer('{"follow_ups": [{"invoice_id": 7, "amount": -1}]}', SCHEMA)
    assert problem is not None
    assert "missing required field 'status'" in problem
    assert "$.follow_ups[0].invoice_id: expected string, got integer" in problem
    assert "$.follow_ups[0].amount: below the minimum 0" in problem


def test_not_json_and_not_an_object() -> None:
    assert "not JSON" in (parse_answer("All done!", SCHEMA)[1] or "")
    assert "expected object" in (parse_answer("[1, 2]", SCHEMA)[1] or "")
    assert "expected integer, got boolean" in (
        parse_answer('{"n": true}', {"type": "object", "properties": {"n": {"type": "integer"}}})[1] or ""
    )
