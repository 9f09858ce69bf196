"""The operator's import step and the lock workers build from: `retrofit mcp import` against real
servers, what import refuses, and what a worker refuses to start with."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp_types import Tool, ToolAnnotations

from retrofit.mcp.consuming.config import McpServerConfig
from retrofit.mcp.consuming.importer import ImportProblem, action_name, lock_server
from retrofit.mcp.consuming.loading import with_mcp_connectors
from retrofit.mcp.consuming.lock import LockError, lock_path, read_lock, schema_hash
from retrofit.registry import load_connectors
from retrofit.sdk.effect import Effect
from retrofit.sdk.errors import PluginError
from retrofit.settings import RetrofitSettings
from retrofit.worker import load_worker_config
from tests.conftest import VENV_BIN
from tests.mcp.consuming.servers import stdio_server, time_server

OBJ: dict[str, Any] = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}


def _server(**fields: Any) -> McpServerConfig:
    return McpServerConfig.model_validate({"name": "crm", "command": "x", "tools": ["*"], **fields})


def _tool(name: str, schema: dict[str, Any] = OBJ, **annotations: Any) -> Tool:
    return Tool(
        name=name, input_schema=schema, annotations=ToolAnnotations(**annotations) if annotations else None
    )


def test_lock_pins_schema_annotations_and_effect() -> None:
    server = _server(tools=["get_*", "delete-contact"], effects={"delete-contact": "destructive"})
    listing = [
        _tool("get_contact", read_only_hint=True),
        _tool("delete-contact", read_only_hint=True),
        _tool("rm"),
    ]
    locked = lock_server(server, listing)
    assert [(t.tool, t.action, t.effect) for t in locked.tools] == [
        ("delete-contact", "delete_contact", Effect.DESTRUCTIVE),  # the operator's word beats the hint
        ("get_contact", "get_contact", Effect.READ),
    ]  # `rm` was not chosen: it never becomes an action
    assert locked.tools[1].annotations == {"readOnlyHint": True}
    assert locked.tools[1].schema_sha256 == schema_hash(OBJ)


def test_schema_hash_ignores_key_order_only() -> None:
    assert schema_hash({"a": 1, "b": [1, 2]}) == schema_hash({"b": [1, 2], "a": 1})
    assert schema_hash({"a": 1, "b": [1, 2]}) != schema_hash({"a": 1, "b": [2, 1]})


@pytest.mark.parametrize(
    ("server", "listing", "problem"),
    [
        (_server(tools=["get_contact"]), [_tool("get_contacts")], "does not offer the tool 'get_contact'"),
        (_server(tools=["get_*"]), [_tool("put")], "no tool matches"),
        (_server(effects={"delete": "read"}), [_tool("dlete")], "effects name tools that are not chosen"),
        (_server(), [_tool("a-b"), _tool("a_b")], "both become the action 'a_b'"),
        (_server(), [_tool("x", {"type": "object", "properties": {"v": {"oneOf": []}}})], "not supported"),
    ],
)
def test_import_refuses(server: McpServerConfig, listing: list[Tool], problem: str) -> None:
    with pytest.raises((ImportProblem, ValueError), match=problem.replace("(", r"\(")):
        lock_server(server, listing)


def test_action_names() -> None:
    assert action_name("Get-Current.Time") == "get_current_time"
    assert action_name("2fa") == "t_2fa"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "retrofit"), "mcp", "import", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def _env(tmp_path: Path) -> dict[str, str]:
    return {"TEST_TOOL_LOG": str(tmp_path / "log"), "TEST_FLAVOR_FILE": str(tmp_path / "flavor")}


def test_cli_imports_real_servers_and_a_worker_loads_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = tmp_path / "mcp-servers.toml"
    servers.write_text(
        stdio_server("shop", '["lookup_order", "cancel_order"]', 'effects = { lookup_order = "write" }')
        + time_server()
    )
    done = _cli("--servers", str(servers), env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "shop.cancel_order" in done.stdout and "time.get_current_time" in done.stdout
    assert f"Locked 4 tools of 2 servers in {lock_path(servers)}" in " ".join(done.stdout.split())
    lock = read_lock(lock_path(servers))
    shop = lock.server("shop")
    assert shop is not None and shop.server_info == "retrofit-test-tools 1.0"
    assert {t.action: t.effect for t in shop.tools} == {
        "cancel_order": Effect.WRITE,
        "lookup_order": Effect.WRITE,
    }
    assert json.loads(lock_path(servers).read_text())["version"] == 1

    # The worker builds its connectors from the servers file + lock, next to the plugins.
    monkeypatch.setenv("RETROFIT_MCP_SERVERS_FILE", str(servers))
    config = load_worker_config(RetrofitSettings())
    specs = {a.name: a for c in config.connectors for a in c.spec.actions}
    assert {"ledger.get_customer", "shop.lookup_order", "time.convert_time"} <= set(specs)
    assert specs["shop.lookup_order"].effect is Effect.WRITE  # the operator's word, read at load
    assert specs["time.get_current_time"].effect is Effect.READ
    assert specs["shop.cancel_order"].description == "Cancel an order."

    # What an integrator lists is what the worker runs: the locked tools beside the plugins.
    listed = subprocess.run(
        [str(VENV_BIN / "retrofit"), "connectors", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250", "RETROFIT_MCP_SERVERS_FILE": str(servers)},
    )
    assert listed.returncode == 0, listed.stderr
    assert "shop.lookup_order" in listed.stdout and "ledger.get_customer" in listed.stdout


def test_cli_refuses_without_writing_a_lock(tmp_path: Path) -> None:
    servers = tmp_path / "mcp-servers.toml"
    servers.write_text(stdio_server("shop", '["lookup_order", "drop_tables"]'))
    done = _cli("--servers", str(servers), env=_env(tmp_path))
    assert done.returncode == 1
    assert "MCP server 'shop' does not offer the tool 'drop_tables'" in " ".join(done.stderr.split())
    assert not lock_path(servers).exists()

    servers.write_text(
        stdio_server("shop") + '[[servers]]\nname = "x"\nurl = "http://h"\ntoken = "s3cret"\ntools = ["a"]\n'
    )
    done = _cli("--servers", str(servers), env=_env(tmp_path))
    assert done.returncode == 1 and "s3cret" not in done.stdout + done.stderr  # refused, never echoed
    assert not lock_path(servers).exists()


def test_a_missing_credential_is_named_not_guessed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    servers = tmp_path / "mcp-servers.toml"
    servers.write_text(stdio_server("shop"))
    monkeypatch.delenv("TEST_TOOL_LOG", raising=False)
    done = _cli("--servers", str(servers))
    assert done.returncode == 1
    said = " ".join((done.stderr + done.stdout).split())
    assert "env 'TOOL_SERVER_LOG' names the environment variable 'TEST_TOOL_LOG', which is not set" in said


def test_worker_refuses_a_missing_or_stale_lock_and_a_taken_name(tmp_path: Path) -> None:
    servers = tmp_path / "mcp-servers.toml"
    servers.write_text(stdio_server("shop", '["lookup_order"]'))
    with pytest.raises(PluginError, match="run `retrofit mcp import` first"):
        with_mcp_connectors([], servers)

    assert _cli("--servers", str(servers), env=_env(tmp_path)).returncode == 0
    # The operator chose a new tool after importing: not locked, so not served.
    servers.write_text(stdio_server("shop", '["lookup_order", "cancel_order"]'))
    with pytest.raises(PluginError, match=r"\['cancel_order'\] are not in .*run `retrofit mcp import`"):
        with_mcp_connectors([], servers)

    # Someone edits the lock's schema by hand: its hash no longer matches.
    path = lock_path(servers)
    lock = json.loads(path.read_text())
    lock["servers"][0]["tools"][0]["input_schema"]["properties"]["sql"] = {"type": "string"}
    path.write_text(json.dumps(lock))
    servers.write_text(stdio_server("shop", '["lookup_order"]'))
    with pytest.raises(PluginError, match="schema does not match its hash"):
        with_mcp_connectors([], servers)

    servers.write_text(stdio_server("ledger", '["lookup_order"]'))
    assert _cli("--servers", str(servers), env=_env(tmp_path)).returncode == 0
    with pytest.raises(PluginError, match="'ledger' is already a connector's name"):
        with_mcp_connectors(load_connectors(), servers)


def test_lock_error_is_typed() -> None:
    with pytest.raises(LockError):
        read_lock(Path("/nonexistent/mcp.lock.json"))


def test_cli_check_reports_drift_and_gone_tools(tmp_path: Path) -> None:
    servers = tmp_path / "mcp-servers.toml"
    servers.write_text(stdio_server("shop", '["lookup_order", "explode"]'))
    env = _env(tmp_path)
    assert _cli("--servers", str(servers), env=env).returncode == 0
    done = _check("--servers", str(servers), env=env)
    assert done.returncode == 0, done.stderr
    assert "shop.lookup_order" in done.stdout and "drift" not in done.stdout

    (tmp_path / "flavor").write_text("v2")
    done = _check("--servers", str(servers), env=env)
    assert done.returncode == 1
    assert "schema changed" in done.stdout and "1 locked tools differ" in " ".join(done.stderr.split())

    servers.write_text(
        stdio_server("shop", '["lookup_order", "explode"]').replace("tool_server.py", "nowhere.py")
    )
    done = _check("--servers", str(servers), env=env)
    assert done.returncode == 1 and done.stdout.count("server unreachable") == 2


def _check(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "retrofit"), "mcp", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **env},
    )
