"""Framework settings, from `RETROFIT_*` environment variables (or `.env`)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


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
