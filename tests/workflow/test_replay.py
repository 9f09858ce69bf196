"""Replay recorded histories of every shipped workflow: a change that breaks replay fails here.

Record again (`python -m tests.histories.record`) only with a deliberate, versioned change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from connectors.crm.connector import CrmConnector
from connectors.erp.connector import ErpConnector
from connectors.ledger.connector import LedgerConnector
from connectors.northwind.connector import NorthwindConnector
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from tests.support import SHIPPED_WORKFLOWS
from tests.workflow.changed_workflows import ReviewWithoutTheWrite

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))
# Read at collection time: the tests themselves stay free of blocking file I/O.
RECORDED = {p.stem: p.read_text() for p in HISTORIES}


def replayer() -> Replayer:
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([LedgerConnector, ErpConnector, CrmConnector, NorthwindConnector]),
        workflows=SHIPPED_WORKFLOWS,
    )
    return Replayer(workflows=[], plugins=[plugin])


def test_every_shipped_workflow_has_a_recorded_history() -> None:
    recorded = {p.stem.split("_")[0] for p in HISTORIES}
    assert {"credit", "single", "overdue", "account", "agent"} <= recorded


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"record-{path.stem}", RECORDED[path.stem])
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_replay_detects_a_changed_workflow() -> None:
    # Guard against a replay test that cannot fail: the raise-limit history replayed against a
    # workflow that skips the write must be reported as non-deterministic.
    history = WorkflowHistory.from_json(
        "record-credit_limit_review_raise", RECORDED["credit_limit_review_raise"]
    )
    changed = Replayer(
        workflows=[ReviewWithoutTheWrite],
        plugins=[RetrofitPlugin(connectors=connectors_from_classes([LedgerConnector]))],
    )
    result = await changed.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
