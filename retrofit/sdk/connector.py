"""The base class every connector plugin derives from."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from retrofit.sdk.lookup import LookupResult


class ConnectorSettings(BaseSettings):
    """Base of a connector's settings model.

    Values come from the environment as `RETROFIT_<CONNECTOR>_<FIELD>` (or a `.env` file); declare
    secrets as `pydantic.SecretStr` so they are never printed, stored or sent anywhere.
    """

    model_config = SettingsConfigDict(extra="ignore", env_file=".env", env_file_encoding="utf-8")

    # This system's circuit breaker (`RETROFIT_<CONNECTOR>_BREAKER_THRESHOLD`, `..._OPEN_SECONDS`):
    # unset keeps the worker's default; a threshold of 0 turns the breaker off for this system.
    breaker_threshold: int | None = Field(default=None, ge=0)
    breaker_open_seconds: float | None = Field(default=None, gt=0)


class ConnectorSettingsError(Exception):
    """A connector's settings are missing or invalid: one line naming the connector and each
    environment variable (`connector 'tryton': RETROFIT_TRYTON_PASSWORD is required`). Never
    the value given: it may be a secret."""

    def __init__(self, connector: str, problems: list[str]) -> None:
        super().__init__(f"connector {connector!r} is misconfigured: {'; '.join(problems)}")
        self.connector = connector
        self.problems = problems


def settings_problems(settings: type[ConnectorSettings], prefix: str, exc: ValidationError) -> list[str]:
    """Each error as `<ENV VAR> is required` or `<ENV VAR>: <why>`, from pydantic's message only
    (its `str()` repeats the input value, which may be a password)."""
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        field = settings.model_fields.get(loc[0]) if loc else None
        alias = field.validation_alias if field is not None else None
        # An aliased field is read from the alias itself; pydantic-settings adds no prefix then.
        if not loc:  # a model validator: about the settings as a whole
            problems.append(f"{prefix}*: {error['msg']}")
            continue
        name = alias if isinstance(alias, str) else f"{prefix}{loc[0]}"
        where = name.upper() + "".join(f"[{part}]" for part in loc[1:])
        problems.append(f"{where} is required" if error["type"] == "missing" else f"{where}: {error['msg']}")
    return problems


class Connector:
    """A legacy system wrapped as typed actions.

    Subclasses set `name`, optionally a `Settings` model, and declare `@action` methods. The
    framework builds one instance per worker, calls `open()` once before the first action and
    `close()` on shutdown, so clients (HTTP pools, SOAP transports, DB engines) live for the worker.
    """

    name: ClassVar[str]
    Settings: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    def __init__(self, settings: ConnectorSettings) -> None:
        self.settings = settings

    @classmethod
    def env_prefix(cls) -> str:
        return f"RETROFIT_{cls.name.upper()}_"

    @classmethod
    def load_settings(cls, **overrides: Any) -> ConnectorSettings:
        """Read this connector's settings from the environment, with explicit overrides on top;
        raises ConnectorSettingsError (one line per problem, no values) when they do not fit."""
        try:
            return cls.Settings(_env_prefix=cls.env_prefix(), **overrides)
        except ValidationError as exc:
            raise ConnectorSettingsError(
                cls.name, settings_problems(cls.Settings, cls.env_prefix(), exc)
            ) from None
        except SettingsError as exc:  # a complex field's value is not JSON: the message names the field
            raise ConnectorSettingsError(cls.name, [f"{cls.env_prefix()}*: {exc}"]) from None

    async def open(self) -> None:
        """Open clients. Called once per worker before any action runs."""

    async def close(self) -> None:
        """Release clients. Called once when the worker shuts down."""

    async def lookup(self, idempotency_key: str) -> LookupResult:
        """Optional: did the write made with `idempotency_key` land, and with what output?

        Override it when the legacy system can answer (it keeps its Idempotency-Key records, or the
        write leaves a row that carries the key). The framework calls it after an attempt whose
        answer was lost, before it escalates and again when a person answers, so the audit trail
        records the effect instead of "outcome unknown". Raise nothing on purpose: answer
        `LookupResult.unknown(...)` when the system cannot tell (errors raised are read as unknown).
        """
        return LookupResult.unknown("this connector has no lookup")

    @classmethod
    def supports_lookup(cls) -> bool:
        """Whether this connector overrides `lookup` (connectors without one stay "unknown")."""
        return cls.lookup is not Connector.lookup
