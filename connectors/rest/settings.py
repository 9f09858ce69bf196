"""Settings every REST connector shares: where the system is and how to reach it."""

from __future__ import annotations

from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr

from retrofit.sdk import ConnectorSettings


class RestSettings(ConnectorSettings):
    """Transport settings of a REST connector, read as `RETROFIT_<CONNECTOR>_<FIELD>`.

    Subclasses add the system's own fields (credentials, tenant, scope) and usually a default
    `base_url`. `default_headers` is for plain headers such as a tenant id; credentials belong in
    secret fields consumed by the connector's auth flow, never here.
    """

    base_url: AnyHttpUrl
    connect_timeout: float = Field(default=5.0, gt=0)
    # Covers reading the answer (and writing the request): one slow legacy endpoint should not
    # hold an activity slot for longer than the action's own timeout allows.
    read_timeout: float = Field(default=30.0, gt=0)
    verify_tls: bool = True
    # A private CA for on-premise systems; used only when verify_tls is on.
    ca_bundle: Path | None = None
    # A proxy URL often carries credentials (`http://user:pass@proxy:3128`), hence secret.
    proxy: SecretStr | None = None
    default_headers: dict[str, str] = Field(default_factory=dict)
    max_connections: int = Field(default=20, ge=1)
    # Per connector instance, i.e. per worker process; None sends as fast as the system answers.
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    rate_limit_burst: int = Field(default=1, ge=1)
