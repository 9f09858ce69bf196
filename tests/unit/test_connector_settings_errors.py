"""A connector setting that is missing or invalid: one line naming the connector and the variable,
never its value (it may be a password), from the SDK, `retrofit connectors list` and `retrofit worker`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, SecretStr

from retrofit.registry import connectors_from_classes, misconfigured
from retrofit.sdk import ActionInput, Connector, ConnectorSettings, ConnectorSettingsError, Effect, action

RETROFIT = str(Path(sys.executable).parent / "retrofit")


class TrytonSettings(ConnectorSettings):
    password: SecretStr
    database: str = "tryton"
    port: int = Field(default=8000, ge=1, le=65535)


class Ping(ActionInput):
    text: str


class Pong(BaseModel):
    text: str


class Tryton(Connector):
    name = "tryton"
    Settings = TrytonSettings

    @action(effect=Effect.READ)
    async def ping(self, req: Ping) -> Pong:
        """Echo the text."""
        return Pong(text=req.text)


class Fine(Connector):
    name = "fine"

    @action(effect=Effect.READ)
    async def ping(self, req: Ping) -> Pong:
        """Echo the text."""
        return Pong(text=req.text)


def test_a_missing_secret_is_one_line_with_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETROFIT_TRYTON_PASSWORD", raising=False)
    with pytest.raises(ConnectorSettingsError) as caught:
        Tryton.load_settings()
    assert str(caught.value) == "connector 'tryton' is misconfigured: RETROFIT_TRYTON_PASSWORD is required"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_invalid_value_names_the_variable_and_never_repeats_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETROFIT_TRYTON_PASSWORD", "s3cret-Hunter2")
    monkeypatch.setenv("RETROFIT_TRYTON_PORT", "99999-s3cret-Hunter2")
    with pytest.raises(ConnectorSettingsError) as caught:
        Tryton.load_settings()
    message = str(caught.value)
    assert message.startswith("connector 'tryton' is misconfigured: RETROFIT_TRYTON_PORT: ")
    assert "Hunter2" not in message and "\n" not in message


def test_misconfigured_lists_only_the_broken_connectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETROFIT_TRYTON_PASSWORD", raising=False)
    problems = misconfigured(connectors_from_classes([Tryton, Fine]))
    assert list(problems) == ["tryton"]
    assert problems["tryton"].problems == ["RETROFIT_TRYTON_PASSWORD is required"]
    monkeypatch.setenv("RETROFIT_TRYTON_PASSWORD", "x")
    assert misconfigured(connectors_from_classes([Tryton, Fine])) == {}


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RETROFIT_LEDGER_")}
    return subprocess.run(
        [RETROFIT, *args],
        env={**environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_connectors_list_shows_a_misconfigured_connector_and_the_worker_stops_in_one_line() -> None:
    bad = {"RETROFIT_LEDGER_READ_TIMEOUT": "-1", "RETROFIT_LEDGER_API_KEY": "ledger-Hunter2"}
    listed = _cli("connectors", "list", **bad)
    assert listed.returncode == 0, listed.stderr
    assert "misconfigured: RETROFIT_LEDGER_READ_TIMEOUT: Input should be greater than 0" in listed.stdout
    assert listed.stdout.count("misconfigured") == 1  # the other connectors load
    # The worker refuses before it dials Temporal (nothing listens on this address).
    worker = _cli("worker", "--connectors", "ledger", RETROFIT_TEMPORAL_ADDRESS="127.0.0.1:9", **bad)
    assert worker.returncode == 1
    assert "connector 'ledger' is misconfigured: RETROFIT_LEDGER_READ_TIMEOUT" in worker.stderr
    assert "Traceback" not in worker.stderr and "Hunter2" not in worker.stderr + worker.stdout
    assert len(worker.stderr.strip().splitlines()) <= 2, worker.stderr
