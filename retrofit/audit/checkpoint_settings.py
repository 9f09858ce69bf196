"""Where checkpoints go and which key signs them: `RETROFIT_AUDIT_*` settings and the key file.

- `RETROFIT_AUDIT_SIGNING_KEY_FILE`: the operator's Ed25519 key (PEM, PKCS8) that signs
  checkpoints; default `<RETROFIT_DATA_DIR>/audit/checkpoint-key.pem`, generated on first use
  (0600 in a 0700 directory). A key of its own: not the identity service's.
- `RETROFIT_AUDIT_PUBLIC_KEY`: the public key(s) verify trusts, base64url raw (comma-separated
  to rotate), as `retrofit audit public-key` prints. An auditor holds only this. Without it,
  verify derives the key from the signing key file (the embedded default).
- `RETROFIT_AUDIT_WITNESS`: `dir:PATH`, `git:PATH` or `db:URL`; `none` for no witness (verify then
  says the head is unanchored). Default `dir:<RETROFIT_DATA_DIR>/audit-witness`.
- `RETROFIT_AUDIT_STORE_ID`: names the store in its checkpoints; default derived from the audit
  URL (the SQLite file's absolute path, or dialect://host:port/database without credentials).
  Set it when workers and auditors reach the same database by different URLs.
- `RETROFIT_AUDIT_CHECKPOINT_SECONDS`: how often a worker checkpoints while the head moves (<= 60).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from retrofit.audit.checkpoint import parse_public_key, public_key_id
from retrofit.audit.url import normalize_url, sqlite_file
from retrofit.ed25519_key_file import create_key, read_key
from retrofit.settings import RetrofitSettings


class CheckpointConfigError(ValueError):
    """The checkpoint settings cannot be used (unreadable key, malformed witness or public key)."""


class AuditCheckpointSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RETROFIT_AUDIT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    signing_key_file: Path | None = None
    public_key: str | None = None
    witness: str | None = None
    store_id: str | None = None
    checkpoint_seconds: float = Field(default=60.0, gt=0, le=60)


@dataclass(frozen=True)
class CheckpointConfig:
    """Everything checkpointing and anchored verify need, resolved once."""

    store_url: str
    store_id: str
    witness: str | None  # a witness spec (`dir:`, `git:`, `db:`); None: no witness
    signing_key_file: Path
    public_keys: str | None
    interval_seconds: float

    def signing_key(self) -> Ed25519PrivateKey:
        """The private key, generated when the file does not exist yet."""
        if not self.signing_key_file.exists():
            create_key(self.signing_key_file)
        return read_key(self.signing_key_file, "the audit signing key", CheckpointConfigError)

    def trusted_keys(self) -> dict[str, Ed25519PublicKey]:
        """key id -> public key verify trusts; empty when there is none (never generates one)."""
        if self.public_keys:
            keys: dict[str, Ed25519PublicKey] = {}
            for text in filter(None, (part.strip() for part in self.public_keys.split(","))):
                try:
                    public = parse_public_key(text)
                except ValueError as exc:
                    raise CheckpointConfigError(f"RETROFIT_AUDIT_PUBLIC_KEY: {exc}") from None
                keys[public_key_id(public)] = public
            return keys
        if not self.signing_key_file.exists():
            return {}
        public = read_key(self.signing_key_file, "the audit signing key", CheckpointConfigError).public_key()
        return {public_key_id(public): public}


def checkpoint_config(settings: RetrofitSettings, db_url: str | None = None) -> CheckpointConfig:
    own = AuditCheckpointSettings()
    url = db_url or settings.audit_db_url
    witness = own.witness if own.witness is not None else f"dir:{settings.data_dir / 'audit-witness'}"
    return CheckpointConfig(
        store_url=url,
        store_id=own.store_id or store_id_of(url),
        witness=None if witness.strip().lower() in ("", "none", "off") else witness.strip(),
        signing_key_file=own.signing_key_file or settings.data_dir / "audit" / "checkpoint-key.pem",
        public_keys=own.public_key,
        interval_seconds=own.checkpoint_seconds,
    )


def store_id_of(url: str) -> str:
    """A name for the store that does not depend on credentials or on the working directory."""
    path = sqlite_file(url)
    if path is not None:
        return f"sqlite:{path.resolve()}"
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:{parsed.database or ':memory:'}"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.get_backend_name()}://{parsed.host or ''}{port}/{parsed.database or ''}"
