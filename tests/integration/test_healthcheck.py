"""Container health checks against real servers: a Temporal dev server with a real worker polling,
and a demo legacy system's HTTP health endpoint."""

from __future__ import annotations

import socket
import uuid

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from legacy.ledger.server import LedgerServer
from retrofit.healthcheck import http_problem, main, worker_problem

pytestmark = pytest.mark.timeout(60)


@activity.defn
async def noop() -> None:
    """Something to serve, so the worker polls activity tasks."""


async def test_worker_check_sees_this_hosts_worker_polling(dev_server_env: WorkflowEnvironment) -> None:
    client = dev_server_env.client
    address = client.service_client.config.target_host
    queue = f"health-{uuid.uuid4()}"
    host = socket.gethostname()

    before = await worker_problem(address, client.namespace, queue, host)
    assert before is not None and "no worker" in before and queue in before

    async with Worker(client, task_queue=queue, activities=[noop]):
        # The server learns of the poller when the first poll arrives; polls start at once.
        for _ in range(50):
            if await worker_problem(address, client.namespace, queue, host) is None:
                break
        assert await worker_problem(address, client.namespace, queue, host) is None
        other_host = await worker_problem(address, client.namespace, queue, "some-other-container")
        assert other_host is not None and "some-other-container" in other_host


async def test_worker_check_reports_an_unreachable_server() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    problem = await worker_problem(f"127.0.0.1:{port}", "default", "q", socket.gethostname())
    assert problem is not None and "cannot reach Temporal" in problem


def test_http_check_against_a_demo_system(
    ledger_server: LedgerServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert http_problem(f"{ledger_server.url}/_admin/health") is None
    missing = http_problem(f"{ledger_server.url}/no-such-page")
    assert missing is not None and "HTTP Error 401" in missing  # the API needs its key; health does not
    main(["http", f"{ledger_server.url}/_admin/health"])
    assert capsys.readouterr().out.strip() == "healthy"
    with pytest.raises(SystemExit) as exit_:
        main(["http", f"{ledger_server.url}/no-such-page"])
    assert exit_.value.code == 1
