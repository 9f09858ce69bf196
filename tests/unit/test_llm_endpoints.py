"""Named model endpoints in the operator's settings: primary and fallbacks, each with its own key;
a task chooses among names (and models an endpoint allows), never URLs or keys."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr, ValidationError

from retrofit.agent.contracts import AgentTaskInput, ModelChoice
from retrofit.execution.llm_activity import LlmRuntime
from retrofit.llm.contracts import ModelEndpoint
from retrofit.llm.settings import NO_KEY, EndpointRefused, LlmSettings

BACKUP = {"base_url": "http://127.0.0.1:9/v1", "model": "backup-model", "api_key_env": "TEST_BACKUP_KEY"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's shell must not change what these tests see.
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("BASE_URL", "API_KEY", "MODEL", "ENDPOINTS", "FALLBACKS", "MODELS"):
        monkeypatch.delenv(f"RETROFIT_LLM_{name}", raising=False)


def test_the_single_endpoint_variables_are_the_primary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETROFIT_LLM_BASE_URL", "http://127.0.0.1:7/v1")
    monkeypatch.setenv("RETROFIT_LLM_API_KEY", "primary-key")
    monkeypatch.setenv("RETROFIT_LLM_MODEL", "gpt-4o-mini")
    settings = LlmSettings(_env_file=None)
    assert settings.endpoint_names() == ["primary"]
    primary = settings.for_endpoint("primary")
    assert (primary.base_url, primary.model) == ("http://127.0.0.1:7/v1", "gpt-4o-mini")
    assert primary.api_key.get_secret_value() == "primary-key"


def test_named_endpoints_from_the_environment_each_with_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETROFIT_LLM_API_KEY", "primary-key")
    monkeypatch.setenv("TEST_BACKUP_KEY", "backup-key")
    monkeypatch.setenv("RETROFIT_LLM_ENDPOINTS", json.dumps({"backup": BACKUP}))
    monkeypatch.setenv("RETROFIT_LLM_FALLBACKS", '["backup"]')
    settings = LlmSettings(_env_file=None)
    assert settings.endpoint_names() == ["primary", "backup"] and settings.fallbacks == ["backup"]
    backup = settings.for_endpoint("backup")
    assert (backup.base_url, backup.model) == (BACKUP["base_url"], "backup-model")
    assert backup.api_key.get_secret_value() == "backup-key"
    assert settings.for_endpoint("primary").api_key.get_secret_value() == "primary-key"
    # The key never shows in a dump or a repr.
    assert "backup-key" not in repr(settings) and "backup-key" not in settings.model_dump_json()


def test_a_primary_entry_replaces_the_single_endpoint_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETROFIT_LLM_BASE_URL", "http://127.0.0.1:7/v1")
    primary = {"base_url": "http://127.0.0.1:8/v1", "model": "m1", "api_key": "k1", "models": ["m1", "m2"]}
    monkeypatch.setenv("RETROFIT_LLM_ENDPOINTS", json.dumps({"primary": primary}))
    settings = LlmSettings(_env_file=None)
    assert (settings.base_url, settings.model, settings.api_key.get_secret_value()) == (
        "http://127.0.0.1:8/v1",
        "m1",
        "k1",
    )
    assert settings.endpoint_names() == ["primary"]
    assert settings.for_endpoint("primary", "m2").model == "m2"
    with pytest.raises(EndpointRefused, match="model 'gpt-4o' is not offered on endpoint 'primary'"):
        settings.for_endpoint("primary", "gpt-4o")


def test_a_key_variable_that_is_not_set_stops_the_worker_with_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_BACKUP_KEY", raising=False)
    with pytest.raises(ValidationError, match="TEST_BACKUP_KEY, which is not set"):
        LlmSettings(endpoints={"backup": BACKUP})


def test_bad_endpoint_settings_are_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BACKUP_KEY", "backup-key")
    with pytest.raises(ValidationError, match="api_key or api_key_env, not both"):
        LlmSettings(endpoints={"backup": {**BACKUP, "api_key": "x"}})
    with pytest.raises(ValidationError, match="not configured: \\['nope'\\]"):
        LlmSettings(endpoints={"backup": BACKUP}, fallbacks=["nope"])
    with pytest.raises(ValidationError, match="endpoint names must match"):
        LlmSettings(endpoints={"Back Up": BACKUP})


def test_an_unknown_name_is_refused_naming_what_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BACKUP_KEY", "backup-key")
    settings = LlmSettings(endpoints={"backup": BACKUP})
    with pytest.raises(EndpointRefused, match=r"'evil' is not configured .*configured: primary, backup"):
        settings.for_endpoint("evil")


def test_an_endpoint_without_a_key_never_borrows_one_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-shell")
    settings = LlmSettings(endpoints={"local": {"base_url": "http://127.0.0.1:11434/v1", "model": "llama3"}})
    assert settings.for_endpoint("local").api_key == SecretStr(NO_KEY)


def test_a_task_chooses_names_and_a_url_or_key_in_its_input_is_refused() -> None:
    def choice(raw: dict[str, object]) -> ModelChoice:
        task = AgentTaskInput.model_validate({"goal": "g", "allowed_actions": ["crm.*"], "model": raw})
        return task.model

    assert choice({"endpoint": "backup", "fallbacks": ["primary"]}).refusal() is None
    assert choice({"endpoint": "backup", "fallbacks": ["primary"]}).chain() == [
        ModelEndpoint(name="backup"),
        ModelEndpoint(name="primary"),
    ]
    assert choice({}).chain() == []  # the operator's default chain
    # Inputs recorded before names existed (null URL and key variable) still start.
    assert (
        choice({"model": "m", "fallbacks": [{"model": "f", "base_url": None, "api_key_env": None}]}).refusal()
        is None
    )
    hostile = choice({"fallbacks": [{"model": "m", "base_url": "http://attacker.example/v1"}]})
    refusal = hostile.refusal()
    assert refusal is not None and "model.fallbacks[0].base_url" in refusal and "by name" in refusal
    for field in ("base_url", "api_key", "api_key_env"):
        problem = choice({field: "x"}).refusal()
        assert problem is not None and f"model.{field}" in problem


def test_the_activity_refuses_a_url_or_key_variable_from_a_call_recorded_before_names() -> None:
    # An in-flight run from before named endpoints may still carry them in its LlmCall.
    runtime = LlmRuntime(LlmSettings(base_url="http://127.0.0.1:7/v1", api_key=SecretStr("k"), model="m"))
    assert runtime.refusal([ModelEndpoint(name="primary")]) is None
    for hostile in (
        ModelEndpoint(name="primary", base_url="http://attacker.example/v1"),
        ModelEndpoint(name="primary", api_key_env="RETROFIT_LLM_API_KEY"),
        ModelEndpoint(name="nope"),
    ):
        assert runtime.refusal([ModelEndpoint(name="primary"), hostile]) is not None
