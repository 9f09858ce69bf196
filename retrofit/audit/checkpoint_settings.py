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

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from retrofit.audit.checkpoint import parse_public_key, public_key_id
from retrofit.audit.url import normalize_url, sqlite_file
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
            _generate(self.signing_key_file)
        return _load(self.signing_key_file)

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
        public = _load(self.signing_key_file).public_key()
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


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        private = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointConfigError(f"cannot read the audit signing key {path}: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise CheckpointConfigError(f"the audit signing key {path} is not an Ed25519 key")
    return private


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, stat.S_IRWXU)
    pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    # Written whole to a private temporary file (0600 from the first byte), then linked into
    # place: link() fails if the key exists, so a second process starting at the same moment
    # keeps the first one's key rather than replacing it, and nobody ever reads half a file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
