"""Start the test MCP server (tool_server.py) as a real subprocess, and write servers files for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOOL_SERVER = Path(__file__).with_name("tool_server.py")
PYTHON = sys.executable
MCP_SERVER_TIME = Path(sys.executable).with_name("mcp-server-time")
TOKEN = "test-mcp-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_tool_server(port: int, **env: str) -> Iterator[str]:
    """tool_server.py over streamable HTTP on loopback (bearer TOKEN required); yields its URL."""
    child_env = {**os.environ, "TOOL_SERVER_TOKEN": TOKEN, **env}
    proc = subprocess.Popen([PYTHON, str(TOOL_SERVER), "http", str(port)], env=child_env)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the test MCP server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stdio_server(
    name: str, tools: str = '["*"]', extra: str = "", flavor_env: str = "TEST_FLAVOR_FILE"
) -> str:
    """A `[[servers]]` entry running tool_server.py over stdio, its log and flavor files named."""
    return (
        f'[[servers]]\nname = "{name}"\ncommand = "{PYTHON}"\nargs = ["{TOOL_SERVER}", "stdio"]\n'
        f"tools = {tools}\ntimeout_seconds = 5\nretries = 2\n"
        f'env_from = {{ TOOL_SERVER_LOG = "TEST_TOOL_LOG", TOOL_SERVER_FLAVOR_FILE = "{flavor_env}" }}\n'
        f"{extra}\n"
    )


def http_server(name: str, url: str, tools: str = '["*"]', extra: str = "") -> str:
    return (
        f'[[servers]]\nname = "{name}"\nurl = "{url}"\ntools = {tools}\ntimeout_seconds = 5\nretries = 2\n'
        f'header_env = {{ Authorization = "TEST_MCP_AUTH" }}\n{extra}\n'
    )


def time_server(name: str = "time") -> str:
    """The real `mcp-server-time` from PyPI, over stdio."""
    return (
        f'[[servers]]\nname = "{name}"\ncommand = "{MCP_SERVER_TIME}"\n'
        'args = ["--local-timezone", "UTC"]\ntools = ["get_current_time", "convert_time"]\n'
        "timeout_seconds = 10\n"
    )
