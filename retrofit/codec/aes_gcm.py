"""AES-GCM payload codec: every payload leaves the process encrypted, tagged with its key id.

The whole serialized payload (metadata and data) is encrypted, so not even the encoding or the
pydantic type name is visible to the server. The key id travels in clear metadata (it is not a
secret) and is bound to the ciphertext as associated data, so a payload cannot be relabelled to
another key. Payloads without our encoding pass through untouched on decode: histories written
before encryption was switched on stay readable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from retrofit.codec.keys import Keyring

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
_NONCE_BYTES = 12  # the size GCM is specified for; random per payload


class PayloadDecryptionError(ValueError):
    """A payload claims our encoding but does not decrypt (wrong key material, tampered, truncated)."""


class AesGcmCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    @property
    def active_key_id(self) -> str:
        return self._keyring.active

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._keyring.active
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
        self._keyring.key(key_id)  # raises UnknownKeyError naming the missing id
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = self._ciphers[key_id].decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload under codec key {key_id!r} does not decrypt: wrong key material or tampered"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded
