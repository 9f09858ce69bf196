"""Framework settings, from `RETROFIT_*` environment variables (or `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrofit.execution.circuit_breaker import BreakerOverride


class RetrofitSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RETROFIT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "retrofit"
    ui_url: str = "http://localhost:8233"
    # Any SQLAlchemy URL; plain `sqlite:///path` and `postgresql://...` pick the async driver.
    audit_db_url: str = "sqlite:///.retrofit/audit.db"
    data_dir: Path = Path(".retrofit")
    # TOML policy (see examples/policy.toml); without one: READ allow, WRITE 1 approval, DESTRUCTIVE 2.
    policy_file: Path | None = None
    # Circuit breakers, one per connector (retrofit/execution/circuit_breaker.py): open after this
    # many consecutive outage failures (0: off), for this long. Per connector:
    # `RETROFIT_BREAKER_OVERRIDES='{"erp": {"threshold": 3, "open_seconds": 120}}'`, or the
    # connector's own `RETROFIT_<CONNECTOR>_BREAKER_THRESHOLD` / `..._BREAKER_OPEN_SECONDS`.
    breaker_threshold: int = Field(default=5, ge=0)
    breaker_open_seconds: float = Field(default=30.0, gt=0)
    breaker_overrides: dict[str, BreakerOverride] = Field(default_factory=dict)

    # Payload encryption (retrofit/codec). No keys = no codec: payloads stay plaintext, which is the
    # embedded default. Keys: JSON {"id": "<base64>"} or "id:<base64>,id2:<base64>" (16/24/32 bytes);
    # the active key encrypts, every listed key decrypts (rotation).
    codec_keys: SecretStr | None = None
    codec_active_key: str | None = None
    # Codec server (`retrofit codec-server`): browser origins allowed (the Temporal Web UI's), comma list.
    codec_cors_origins: str = "http://localhost:8233"
    codec_server_token: SecretStr | None = None

    # Observability (retrofit/observability). Tracing exports over OTLP/HTTP only when an endpoint is
    # set here or in the standard OTEL_EXPORTER_OTLP_ENDPOINT; metrics are served only with a port.
    otlp_endpoint: str | None = None
    service_name: str = "retrofit"
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    # Scaling workers (retrofit/task_queues.py): connector -> task queue, as JSON {"erp": "retrofit-erp"}
    # or "erp=retrofit-erp,crm=retrofit-crm". Unlisted connectors run on `task_queue`.
    task_queue_groups: str | None = None
    # On SIGTERM a worker stops polling and gives in-flight activities this long to finish.
    graceful_shutdown_seconds: float = 30.0
