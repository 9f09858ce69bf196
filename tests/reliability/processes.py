"""Processes the reliability tests start and kill: `retrofit worker` children and the CLI.

Each worker is a real `retrofit worker` process (entry-point discovery, settings from the
environment), so SIGKILL takes down exactly what production would lose: the process, its
in-flight activities and its cached workflows.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests.support import DemoSystems

VENV_BIN = Path(sys.executable).parent
RETROFIT = str(VENV_BIN / "retrofit")


def stack_environment(address: str, task_queue: str, audit_url: str, systems: DemoSystems) -> dict[str, str]:
    """`RETROFIT_*` for a worker or the CLI pointed at this test's server and demo systems."""
    env = dict(os.environ)
    env.pop("RETROFIT_POLICY_FILE", None)  # the default policy: a WRITE waits for one approval
    env.update(
        RETROFIT_TEMPORAL_ADDRESS=address,
        RETROFIT_TASK_QUEUE=task_queue,
        RETROFIT_AUDIT_DB_URL=audit_url,
        RETROFIT_LEDGER_BASE_URL=systems.ledger.url,
        RETROFIT_LEDGER_API_KEY=systems.ledger.api_key,
        RETROFIT_ERP_WSDL=systems.erp.wsdl_url,
        RETROFIT_CRM_BASE_URL=systems.crm.url,
        RETROFIT_CRM_CLIENT_SECRET=systems.crm.client_secret,
        RETROFIT_NORTHWIND_URL=systems.northwind.url,
        COLUMNS="200",
    )
    return env


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log: Path
    proc: asyncio.subprocess.Process | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    async def start(self) -> None:
        self._log_file = self.log.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            RETROFIT, "worker", env=self.env, stdout=self._log_file, stderr=self._log_file
        )
        # Started means polling: the banner is printed right before `Worker.run()`.
        for _ in range(300):
            if b"worker on " in self.log.read_bytes():
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"worker did not start:\n{self.log.read_text()[-3000:]}")

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no chance to finish or report anything."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self._close_log()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=40)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


async def cli(env: dict[str, str], *args: str, timeout: float = 90) -> tuple[int, str, str]:  # noqa: ASYNC109
    proc = await asyncio.create_subprocess_exec(
        RETROFIT, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def ledger_writes(url: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/_admin/writes")
        response.raise_for_status()
        return list(response.json()["items"])


async def ledger_effects(url: str) -> dict[str, object]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/_admin/effects")
        response.raise_for_status()
        return dict(response.json())
