"""What `retrofit mcp serve` offers, without a server: the operator's selection (READ-only by
default, typos refused), tool names, schemas and the annotations each effect gives."""

from __future__ import annotations

import pytest

from retrofit.gate.approval_models import ApprovalView
from retrofit.mcp.serving import (
    SelectionError,
    ServedTools,
    select_actions,
    split_patterns,
    tool_annotations,
)
from retrofit.mcp.serving.calls import waiting_message
from retrofit.sdk.effect import Effect
from retrofit.settings import RetrofitSettings
from tests.mcp.serving.stack import LEDGER_SPECS


def _names(patterns: list[str]) -> list[str]:
    return [s.name for s in select_actions(LEDGER_SPECS, split_patterns(patterns))]


def test_default_serves_reads_only_and_the_operator_names_the_rest() -> None:
    assert _names([]) == ["ledger.get_customer"]
    assert set(_names(["ledger.*"])) == {
        "ledger.get_customer",
        "ledger.set_credit_limit",
        "ledger.add_note",
        "ledger.delete_customer",
    }
    assert _names(["ledger.get_customer, ledger__add_note"]) == ["ledger.add_note", "ledger.get_customer"]
    assert len(_names(["*"])) == 4


@pytest.mark.parametrize("typo", ["ledger.get_customers", "ldger.*", "nothing", "ledger"])
def test_a_pattern_that_matches_nothing_stops_the_server(typo: str) -> None:
    with pytest.raises(SelectionError, match="matches no action"):
        _names([typo])


def test_tools_carry_the_connector_the_schema_and_the_effects_hints() -> None:
    tools = {t.name: t for t in ServedTools.of(LEDGER_SPECS).tools()}
    assert set(tools) == {
        "ledger__get_customer",
        "ledger__set_credit_limit",
        "ledger__add_note",
        "ledger__delete_customer",
    }
    limit = tools["ledger__set_credit_limit"]
    assert limit.title == "ledger.set_credit_limit"
    assert set(limit.input_schema["required"]) == {"customer_id", "credit_limit"}
    assert "waits" in (limit.description or "")
    assert "DESTRUCTIVE" in (tools["ledger__delete_customer"].description or "")

    read, write, gone = (tool_annotations(e) for e in (Effect.READ, Effect.WRITE, Effect.DESTRUCTIVE))
    assert (read.read_only_hint, read.idempotent_hint) == (True, True)
    assert (write.read_only_hint, write.destructive_hint, write.idempotent_hint) == (False, False, False)
    assert (gone.read_only_hint, gone.destructive_hint) == (False, True)


def test_two_actions_with_one_tool_name_are_refused_not_shadowed() -> None:
    [spec] = [s for s in LEDGER_SPECS if s.method == "get_customer"]
    with pytest.raises(ValueError, match="is taken by"):
        ServedTools.of([spec, spec])


def test_the_waiting_message_says_which_request_who_answers_and_where() -> None:
    view = ApprovalView.model_validate(
        {
            "request_id": "apr-3",
            "action": "ledger.set_credit_limit",
            "effect": "write",
            "step": 1,
            "arguments": {},
            "args_hash": "0" * 64,
            "approvers_needed": 2,
            "may_approve": ["group:finance", "carol"],
            "approved_by": ["bob"],
            "requested_at": "2026-01-01T00:00:00Z",
            "deadline": "2026-01-02T00:00:00Z",
        }
    )
    settings = RetrofitSettings(ui_url="http://ui.example:8233/")
    assert waiting_message(view, settings, "mcp-x") == (
        "waiting for approval apr-3 in the Temporal UI (group finance, carol; 1/2 approvals): "
        "http://ui.example:8233/namespaces/default/workflows/mcp-x"
    )
