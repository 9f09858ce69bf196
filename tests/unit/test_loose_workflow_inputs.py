"""A worker says which of its workflows take a start input that is not a WorkflowInput (those
keep Temporal's default for an undecodable start: a workflow task failing again and again)."""

from __future__ import annotations

import logging

import pytest

from retrofit.gate.workflow_input import loose_inputs
from retrofit.plugin import RetrofitPlugin
from tests.support import SHIPPED_WORKFLOWS
from tests.workflow.invalid_value_workflows import LooseLookup
from tests.workflow.policy_workflows import NoteWithOwnPolicy


def test_shipped_workflows_all_take_a_workflow_input() -> None:
    assert loose_inputs(SHIPPED_WORKFLOWS) == []
    assert loose_inputs([LooseLookup]) == []


def test_a_plain_model_input_is_named(caplog: pytest.LogCaptureFixture, tmp_path: object) -> None:
    assert loose_inputs([*SHIPPED_WORKFLOWS, NoteWithOwnPolicy]) == ["NoteWithOwnPolicy"]
    with caplog.at_level(logging.WARNING, logger="retrofit.plugin"):
        RetrofitPlugin(workflows=[NoteWithOwnPolicy], audit_url=f"sqlite:///{tmp_path}/audit.db")
    assert "not a retrofit.WorkflowInput: NoteWithOwnPolicy" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="retrofit.plugin"):
        RetrofitPlugin(workflows=SHIPPED_WORKFLOWS, audit_url=f"sqlite:///{tmp_path}/audit.db")
    assert "WorkflowInput" not in caplog.text
