"""Workflow code imports no I/O library, even transitively (DESIGN.md: the determinism boundary)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import workflows

FORBIDDEN = (
    "httpx",
    "httpx2",
    "sqlalchemy",
    "zeep",
    "lxml",
    "openai",
    "aiosqlite",
    "requests",
    "uvicorn",
    "starlette",
)


def _workflow_modules() -> list[str]:
    found = [m.name for m in pkgutil.walk_packages(workflows.__path__, prefix="workflows.") if not m.ispkg]
    assert "workflows.credit_limit_review.workflow" in found
    return found


def test_workflow_modules_and_the_gate_import_no_io_library() -> None:
    modules = ["retrofit", "retrofit.gate", "retrofit.audit.events", *_workflow_modules()]
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_probe_would_notice_an_io_import() -> None:
    # The same probe, on a module that does import httpx, must report it.
    probe = (
        "import importlib, json, sys\n"
        "importlib.import_module('connectors.ledger.connector')\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "httpx" in json.loads(out.stdout)
