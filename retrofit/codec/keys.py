"""Codec keys from settings: a keyring of AES keys by id, one of them active.

`RETROFIT_CODEC_KEYS` is a JSON object (`{"2024-06": "<base64>"}`) or a comma list
(`2024-06:<base64>,2025-01:<base64>`); `RETROFIT_CODEC_ACTIVE_KEY` names the key new payloads are
encrypted with. Old keys stay in the ring so histories written under them still decrypt: rotating
is "add a key, make it active, keep the old one until its histories are past retention".
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

#: AES-128, AES-192 and AES-256 key sizes in bytes.
VALID_KEY_SIZES = (16, 24, 32)


class CodecConfigError(ValueError):
    """The codec settings cannot be used (malformed keys, unknown active key)."""


class UnknownKeyError(LookupError):
    """A payload was encrypted with a key id this keyring does not hold."""

    def __init__(self, key_id: str, known: tuple[str, ...]) -> None:
        super().__init__(
            f"payload encrypted with codec key {key_id!r}, which is not configured "
            f"(RETROFIT_CODEC_KEYS holds: {', '.join(known) or 'none'}); "
            "add the old key back to decrypt it"
        )
        self.key_id = key_id


@dataclass(frozen=True)
class Keyring:
    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise CodecConfigError(
                f"active codec key {self.active!r} is not in RETROFIT_CODEC_KEYS ({', '.join(self.keys)})"
            )
        for key_id, key in self.keys.items():
            if len(key) not in VALID_KEY_SIZES:
                raise CodecConfigError(
                    f"codec key {key_id!r} is {len(key)} bytes; AES-GCM needs 16, 24 or 32"
                )

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKeyError(key_id, tuple(self.keys)) from None


def parse_keyring(keys: SecretStr | str | None, active: str | None) -> Keyring | None:
    """The keyring the settings describe, or None when no keys are configured (no codec)."""
    raw = keys.get_secret_value() if isinstance(keys, SecretStr) else keys
    if raw is None or not raw.strip():
        if active:
            raise CodecConfigError("RETROFIT_CODEC_ACTIVE_KEY is set but RETROFIT_CODEC_KEYS is empty")
        return None
    encoded = _parse_pairs(raw.strip())
    decoded = {key_id: _decode_key(key_id, value) for key_id, value in encoded.items()}
    if not active:
        if len(decoded) != 1:
            raise CodecConfigError("several codec keys configured: name one in RETROFIT_CODEC_ACTIVE_KEY")
        active = next(iter(decoded))
    return Keyring(decoded, active)


def _parse_pairs(raw: str) -> dict[str, str]:
    if raw.startswith("{"):
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CodecConfigError(f"RETROFIT_CODEC_KEYS is not valid JSON: {exc.msg}") from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            raise CodecConfigError(
                'RETROFIT_CODEC_KEYS JSON must map key ids to base64 strings: {"id": "..."}'
            )
        pairs: dict[str, str] = loaded
    else:
        pairs = {}
        for item in filter(None, (part.strip() for part in raw.split(","))):
            key_id, sep, value = item.partition(":")
            if not sep or not key_id.strip() or not value.strip():
                # Never echo the item: it holds key material.
                raise CodecConfigError("RETROFIT_CODEC_KEYS items must look like keyid:base64key")
            pairs[key_id.strip()] = value.strip()
    if not pairs:
        raise CodecConfigError("RETROFIT_CODEC_KEYS holds no keys")
    return pairs


def _decode_key(key_id: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CodecConfigError(f"codec key {key_id!r} is not valid base64") from None
