"""The model contracts and tool schemas import no I/O library: workflows will import them."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("openai", "httpx", "httpx2", "uvicorn", "starlette", "sqlalchemy", "zeep", "requests")


def _io_modules_after_importing(*modules: str) -> list[str]:
    probe = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(out.stdout)
    return found


def test_contracts_and_tools_import_no_io_library() -> None:
    assert _io_modules_after_importing("retrofit.llm.contracts", "retrofit.llm.tools") == []


def test_the_probe_would_notice_the_client() -> None:
    found = _io_modules_after_importing("retrofit.llm.client")
    assert "openai" in found
