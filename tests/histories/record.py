"""Record the histories the replay tests replay: `python -m tests.histories.record`.

Re-record only on purpose (a deliberate, versioned workflow change): the point of the committed
histories is that a code change which breaks replay of running workflows fails CI.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from tests.support import ledger_worker
from workflows.credit_limit_review.models import CreditReviewInput
from workflows.single_action.workflow import SingleActionInput

HERE = Path(__file__).parent
CASES = {
    "credit_limit_review_raise": ("CreditLimitReview", CreditReviewInput(customer_id="C-1003")),
    "credit_limit_review_no_change": ("CreditLimitReview", CreditReviewInput(customer_id="C-1001")),
    "single_action_denied": (
        "SingleAction",
        SingleActionInput(action="ledger.delete_customer", arguments={"customer_id": "C-1004"}),
    ),
}


async def main() -> None:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
    )
    try:
        with LedgerServer() as ledger, tempfile.TemporaryDirectory() as tmp:
            async with ledger_worker(env.client, ledger, f"sqlite:///{tmp}/audit.db") as worker:
                for name, (workflow, arg) in CASES.items():
                    handle = await env.client.start_workflow(
                        workflow, arg, id=f"record-{name}", task_queue=worker.task_queue
                    )
                    try:
                        await handle.result()
                    except Exception as exc:  # a refusal is a legitimate history to replay
                        print(f"{name}: ended with {type(exc).__name__}")
                    history = await handle.fetch_history()
                    (HERE / f"{name}.json").write_text(history.to_json())
                    print(f"recorded {name}: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
