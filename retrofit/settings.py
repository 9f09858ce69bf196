"""Framework settings, from `RETROFIT_*` environment variables (or `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrofit.execution.circuit_breaker import BreakerOverride
from retrofit.identity.pin import IdentityMode


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
    # External MCP servers whose tools become actions (docs/mcp-consume.md); its lock sits beside it.
    mcp_servers_file: Path | None = None
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

    # Verified identity (retrofit/identity; the README's "Trust model"). The identity service signs
    # assertions with an Ed25519 key: generated on first use at `<data_dir>/identity/signing-key.pem`
    # unless a file is named. Workers pin the public keys: `identity_public_keys` as JSON
    # {"kid": "<b64url raw key>"} (production: workers hold no private key; `retrofit identity
    # show-pin` prints it), else derived from the signing key file (the embedded default).
    identity_signing_key_file: Path | None = None
    identity_public_keys: str | None = None
    # `trusted-namespace` (anyone who reaches the namespace answers as the name typed) only when set.
    identity_mode: IdentityMode = IdentityMode.VERIFIED
    identity_issuer: str = "retrofit-identity"
    # Where people and the CLI reach the identity service (served by `retrofit codec-server`).
    identity_url: str = "http://localhost:8234"
    # Local user directory (TOML, `retrofit identity add-user`); default `<data_dir>/identity/users.toml`.
    identity_directory: Path | None = None
    # OIDC ID tokens from the company's IdP (any of Bearer auth, `RETROFIT_IDENTITY_TOKEN`): verified
    # against the IdP's JWKS (URL or file), issuer and audience; subject and groups from these claims.
    identity_oidc_issuer: str | None = None
    identity_oidc_audience: str | None = None
    identity_oidc_jwks_url: str | None = None
    identity_oidc_jwks_file: Path | None = None
    identity_oidc_subject_claim: str = "preferred_username"
    identity_oidc_groups_claim: str = "groups"
    identity_oidc_algorithms: str = "RS256,ES256,PS256"
    # Lifetimes: a login session (cookie, `retrofit login`) and one signed answer (<= the pin's max).
    identity_session_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 86_400)
    identity_assertion_seconds: int = Field(default=300, ge=10, le=900)
    # Mark the session cookie Secure (set behind TLS; plain http://localhost in the embedded default).
    identity_cookie_secure: bool = False

    # Agent task templates for the web front door (TOML; see retrofit/web/task_templates.py and the
    # demo's retrofit/embedded/task-templates.toml): goals with blanks a business user fills in.
    task_templates_file: Path | None = None

    def workflow_url(self, workflow_id: str) -> str:
        """The workflow's page in the Temporal UI (what the CLI, the web and MCP point people at)."""
        return f"{self.ui_url.rstrip('/')}/namespaces/{self.temporal_namespace}/workflows/{workflow_id}"
