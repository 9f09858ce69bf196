"""The identity service's signing key, and the pin a worker verifies assertions with.

Host-only (file I/O). The signing key is an Ed25519 private key in a PEM (PKCS8) file: named by
`RETROFIT_IDENTITY_SIGNING_KEY_FILE`, else `<RETROFIT_DATA_DIR>/identity/signing-key.pem`,
generated on first use (file 0600 in a 0700 directory). Its key id is the first 16 hex of the
SHA-256 of the raw public key, so the same key always has the same id and two keys never share one.

Workers pin public keys only. In production `RETROFIT_IDENTITY_PUBLIC_KEYS` holds them (JSON
`{kid: b64url raw key}`, printed by `retrofit identity show-pin`), so a worker never holds the
private key; listing the old and the new key there is how keys rotate. Without it (the embedded
default) the pin is derived from the signing key file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
)

from retrofit.ed25519_key_file import create_key, read_key
from retrofit.identity.pin import IdentityPin
from retrofit.identity.tokens import public_key_text
from retrofit.settings import RetrofitSettings


class IdentityKeyError(ValueError):
    """The identity key settings cannot be used (unreadable key file, malformed public keys)."""


def signing_key_path(settings: RetrofitSettings) -> Path:
    return settings.identity_signing_key_file or settings.data_dir / "identity" / "signing-key.pem"


def key_id(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_signing_key(settings: RetrofitSettings) -> tuple[str, Ed25519PrivateKey]:
    """(kid, key) from the signing key file, generating it when absent."""
    path = signing_key_path(settings)
    if not path.exists():
        create_key(path)
    private = read_key(path, "the identity signing key", IdentityKeyError)
    return key_id(private), private


def public_keys(settings: RetrofitSettings) -> dict[str, str]:
    """kid -> b64url raw public key, as pinned: the configured list, else the signing key's."""
    if settings.identity_public_keys:
        return _parse_public_keys(settings.identity_public_keys)
    kid, private = load_signing_key(settings)
    return {kid: public_key_text(private)}


def identity_pin(settings: RetrofitSettings) -> IdentityPin:
    """What a worker pins into each workflow's policy snapshot."""
    return IdentityPin(
        mode=settings.identity_mode,
        issuer=settings.identity_issuer,
        keys=public_keys(settings),
        login_url=login_url(settings),
    )


def login_url(settings: RetrofitSettings) -> str:
    return settings.identity_url.rstrip("/") + "/login"


def show_pin_json(settings: RetrofitSettings) -> str:
    """The `RETROFIT_IDENTITY_PUBLIC_KEYS` value for production workers."""
    return json.dumps(public_keys(settings), sort_keys=True)


def _parse_public_keys(text: str) -> dict[str, str]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IdentityKeyError(f"RETROFIT_IDENTITY_PUBLIC_KEYS is not JSON: {exc}") from None
    if not isinstance(parsed, dict) or not parsed:
        raise IdentityKeyError('RETROFIT_IDENTITY_PUBLIC_KEYS must be a JSON object {"kid": "<key>"}')
    keys: dict[str, str] = {}
    for kid, encoded in parsed.items():
        if not isinstance(encoded, str):
            raise IdentityKeyError(f"identity public key {kid!r} is not a string")
        if len(_b64decode(kid, encoded)) != 32:
            raise IdentityKeyError(f"identity public key {kid!r} is not a raw Ed25519 key (32 bytes)")
        keys[str(kid)] = encoded
    return keys


def _b64decode(kid: str, encoded: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise IdentityKeyError(f"identity public key {kid!r} is not base64url") from None
