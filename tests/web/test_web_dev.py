"""`retrofit dev` serves the web front door beside the Temporal UI and prints its URL."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from retrofit.embedded.dev_server import free_port
from tests.web.support import web_login

RETROFIT = str(Path(sys.executable).with_name("retrofit"))


@pytest.mark.devserver
async def test_retrofit_dev_serves_the_web_front_door(tmp_path: Path) -> None:
    ports = [free_port() for _ in range(4)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETROFIT_", "OTEL_"))}
    env.update(
        HOME=str(tmp_path),
        COLUMNS="200",
        RETROFIT_DATA_DIR=str(tmp_path / "data"),
        RETROFIT_AUDIT_DB_URL=f"sqlite:///{tmp_path / 'audit.db'}",
    )
    out = tmp_path / "dev.out"
    with out.open("wb") as stdout:
        process = await asyncio.create_subprocess_exec(
            RETROFIT, "dev", "--demo", "--port", str(ports[0]), "--ui-port", str(ports[1]),
            "--identity-port", str(ports[2]), "--web-port", str(ports[3]),
            env=env, stdout=stdout, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(600):
            if process.returncode is not None or "Worker running" in out.read_text():
                break
            await asyncio.sleep(0.05)
        text = out.read_text()
        assert "Worker running" in text, text
        printed = re.search(r"Web front door \(business users\): (http://\S+)", text)
        assert printed and printed.group(1) == f"http://127.0.0.1:{ports[3]}", text
        async with httpx.AsyncClient(base_url=printed.group(1)) as http:
            await web_login(http, "carol")
            catalog = await http.get("/")
            assert catalog.status_code == 200 and "CreditLimitReview" in catalog.text
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), timeout=30)
    assert process.returncode == 0, out.read_text()
