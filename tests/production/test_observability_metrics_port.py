"""Only worker processes serve metrics: a CLI command with RETROFIT_METRICS_PORT exported (as an
operator does for the worker, in a shell or `.env`) works while a worker holds that port."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from retrofit.embedded.stack import embedded_stack
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect

pytestmark = pytest.mark.devserver

RETROFIT = Path(sys.executable).with_name("retrofit")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_cli_command_runs_while_a_worker_serves_the_metrics_port(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    port = _free_port()
    address = dev_server_env.client.service_client.config.target_host
    settings = RetrofitSettings(temporal_address=address, metrics_port=port, metrics_host="127.0.0.1")
    await connect(settings, serve_metrics=True)  # the worker process: its runtime binds the port
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200

    env = {
        **os.environ,
        "RETROFIT_TEMPORAL_ADDRESS": address,
        "RETROFIT_METRICS_PORT": str(port),
        "RETROFIT_METRICS_HOST": "127.0.0.1",
        "RETROFIT_DATA_DIR": str(tmp_path),
        "HOME": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        str(RETROFIT), "approvals", "list", "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "[]"
    assert "Address already in use" not in err.decode()
    async with httpx.AsyncClient(timeout=10) as http:  # the worker still serves
        assert (await http.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200


async def test_cli_command_does_not_hang_on_a_collector_that_is_down(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """RETROFIT_OTLP_ENDPOINT exported for the worker, the collector down: a command still ends
    promptly (its spans are given up after a short wait, not retried for the exporter's 10 s)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RETROFIT_", "OTEL_"))},
        "RETROFIT_TEMPORAL_ADDRESS": dev_server_env.client.service_client.config.target_host,
        "RETROFIT_DATA_DIR": str(tmp_path),
        "HOME": str(tmp_path),
    }

    async def progress(extra: dict[str, str]) -> tuple[float, str]:
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            str(RETROFIT), "agent", "progress", "no-such-workflow",
            env={**env, **extra}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 1  # a query (a span to export) that finds nothing
        return time.perf_counter() - began, err.decode()

    baseline, _ = await progress({})
    down, err = await progress({"RETROFIT_OTLP_ENDPOINT": f"http://127.0.0.1:{_free_port()}"})
    assert "no workflow 'no-such-workflow'" in err
    # The exporter alone retries a refused connection for ~7 s; the command waits at most 2 s.
    assert down - baseline < 4.0, (baseline, down)


async def test_an_ephemeral_stack_runs_while_a_worker_serves_the_metrics_port(tmp_path: Path) -> None:
    """The eval harness's stack (ephemeral) runs beside a `retrofit dev` holding the port."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = int(held.getsockname()[1])
        settings = RetrofitSettings(
            data_dir=tmp_path / "data",
            audit_db_url=f"sqlite:///{tmp_path}/audit.db",
            metrics_port=port,
            metrics_host="127.0.0.1",
        )
        async with embedded_stack(settings, demo=False, ephemeral=True) as stack:
            assert await stack.client.count_workflows() is not None
