"""Settings every SQL connector shares; a connector subclasses them to set its own defaults."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from connectors.sql.url import display_url, engine_url
from retrofit.sdk import ConnectorSettings


class SqlSettings(ConnectorSettings):
    """Where the database is and how hard the connector may use it.

    Read from `RETROFIT_<CONNECTOR>_URL`, `..._POOL_SIZE` and so on. `url` is a secret because a
    database URL usually carries a password: it is never printed, logged or captured.
    """

    url: SecretStr
    pool_size: int = Field(default=5, ge=1, le=100)
    max_overflow: int = Field(default=0, ge=0, le=100)
    pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # One statement may run this long before the database (PostgreSQL's statement_timeout) or the
    # connector (SQLite, which has no such setting) cancels it; a cancelled statement is retryable.
    statement_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long to wait for another writer's lock before giving up with a retryable error. Short on
    # purpose: Temporal's backoff is a better place to wait than a held pool connection.
    lock_timeout_seconds: float = Field(default=5.0, ge=0)
    # Default and hard cap on the rows one read returns; reads report when they were cut off.
    row_limit: int = Field(default=500, ge=1, le=100_000)
    # Where write actions record their idempotency keys, in the same database as the writes;
    # None turns the record off (only for databases where the connector may not create a table).
    idempotency_table: str | None = Field(default="retrofit_idempotency", min_length=1, max_length=63)

    @field_validator("idempotency_table", mode="before")
    @classmethod
    def _empty_means_off(cls, value: object) -> object:
        # `RETROFIT_<CONNECTOR>_IDEMPOTENCY_TABLE=` (empty) is how an environment says "none".
        return None if value == "" else value

    @field_validator("url")
    @classmethod
    def _url_is_usable(cls, value: SecretStr) -> SecretStr:
        engine_url(value)  # raises DatabaseUrlError, whose message never quotes the URL
        return value

    def safe_url(self) -> str:
        """The URL with its password masked, for messages and `retrofit connectors check`."""
        return display_url(self.url)
