"""`retrofit login | whoami | logout | identity add-user | identity show-pin` as people run them,
against the real identity service on loopback (no Temporal needed)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

import httpx

from retrofit.embedded.identity_server import IdentityServer
from retrofit.identity.directory import Directory
from retrofit.identity.keys import identity_pin
from retrofit.settings import RetrofitSettings

RETROFIT = str(Path(sys.executable).parent / "retrofit")


async def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RETROFIT_")}
    proc = await asyncio.create_subprocess_exec(
        RETROFIT,
        *args,
        env={**base, "COLUMNS": "200", **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_login_caches_a_private_session_that_logout_ends(
    identity_server: IdentityServer, tmp_path: Path
) -> None:
    env = {"RETROFIT_IDENTITY_URL": identity_server.local_url, "RETROFIT_DATA_DIR": str(tmp_path)}
    code, _, err = await _run(env, "whoami")
    assert code == 1 and "not logged in" in err
    code, _, err = await _run({**env, "RETROFIT_IDENTITY_PASSWORD": "nope"}, "login", "carol")
    assert code == 1 and "unknown user or wrong password" in err
    code, _, err = await _run(env, "login", "carol")
    assert code == 1 and "set RETROFIT_IDENTITY_PASSWORD" in err, "no terminal, no password: no guess"

    code, out, err = await _run({**env, "RETROFIT_IDENTITY_PASSWORD": "demo-carol"}, "login", "Carol")
    assert code == 0 and "logged in as carol (groups: controllers)" in out, err
    cached = tmp_path / "identity" / "cli-session.json"
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert stat.S_IMODE(cached.parent.stat().st_mode) == 0o700
    assert "demo-carol" not in cached.read_text(), "the password is never cached"
    session = json.loads(cached.read_text())["session"]
    code, out, _ = await _run(env, "whoami")
    assert code == 0 and out.startswith("carol")

    code, out, _ = await _run(env, "logout")
    assert code == 0 and "logged out (carol)" in out
    assert not cached.exists()
    async with httpx.AsyncClient(base_url=identity_server.local_url) as http:
        revoked = await http.get("/identity/whoami", headers={"Authorization": f"Bearer {session}"})
    assert revoked.status_code == 401, "logout ends the session at the service too"


async def test_identity_service_down_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        "RETROFIT_IDENTITY_URL": "http://127.0.0.1:9",
        "RETROFIT_DATA_DIR": str(tmp_path),
        "RETROFIT_IDENTITY_PASSWORD": "demo-alice",
    }
    code, _, err = await _run(env, "login", "alice")
    assert code == 1 and "cannot reach the identity service at http://127.0.0.1:9" in err


async def test_operators_add_users_and_print_the_pin(tmp_path: Path) -> None:
    env = {"RETROFIT_DATA_DIR": str(tmp_path), "RETROFIT_IDENTITY_PASSWORD": "frank-s3cret"}
    code, out, err = await _run(
        env, "identity", "add-user", "Frank", "--group", "Finance", "--name", "Frank F"
    )
    assert code == 0 and "added frank" in out, err
    users = tmp_path / "identity" / "users.toml"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    user = Directory(users).authenticate("frank", "frank-s3cret")
    assert (user.name, user.groups) == ("Frank F", ("finance",))
    code, _, err = await _run({"RETROFIT_DATA_DIR": str(tmp_path)}, "identity", "add-user", "gina")
    assert code == 1 and "no terminal to ask for the password" in err

    code, out, err = await _run({"RETROFIT_DATA_DIR": str(tmp_path)}, "identity", "show-pin")
    assert code == 0, err
    assert json.loads(out) == identity_pin(RetrofitSettings(data_dir=tmp_path)).keys
    code, _, err = await _run(
        {"RETROFIT_DATA_DIR": str(tmp_path), "RETROFIT_IDENTITY_PUBLIC_KEYS": "not json"},
        "identity",
        "show-pin",
    )
    assert code == 1 and "RETROFIT_IDENTITY_PUBLIC_KEYS is not JSON" in err
    code, out, _ = await _run({"RETROFIT_DATA_DIR": str(tmp_path)}, "identity", "remove-user", "FRANK")
    assert code == 0 and Directory(users).get("frank") is None
