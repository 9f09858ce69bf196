"""A checkpoint: the chain's head (seq, hash, record count, time), signed with the operator's key.

The audit database alone cannot prove that nothing was cut off its end or re-hashed from some
record on: whoever can write the table can also rewrite every later hash. A checkpoint is kept
outside the database (a witness, `witness.py`), signed with an Ed25519 key the database never
sees, so `verify` can hold the chain to heads it had before.

    {"format": "retrofit-audit-checkpoint/1", "store": "...", "seq": 120, "hash": "…",
     "count": 120, "time": "2026-…+00:00", "previous": "<digest of the one before>" | null,
     "key_id": "…", "signature": "<base64url Ed25519 over the canonical JSON of the rest>"}

`previous` links each checkpoint to the latest one its writer saw, so deleting a checkpoint from
the witness leaves a link that points nowhere. Pure (pydantic + `cryptography`): no file or
database access here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from retrofit.audit.chain import canonical_json, format_utc

FORMAT: Literal["retrofit-audit-checkpoint/1"] = "retrofit-audit-checkpoint/1"


class CheckpointError(ValueError):
    """A witness entry that is not a valid checkpoint of this store; the message says why."""


class CheckpointBody(BaseModel):
    """What is signed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["retrofit-audit-checkpoint/1"] = FORMAT
    store: str
    seq: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    count: int = Field(ge=1)
    time: datetime
    previous: str | None = None
    key_id: str

    def signing_bytes(self) -> bytes:
        # Only the body's fields: a Checkpoint signs what it had before it had a signature.
        payload = self.model_dump(mode="python", include=set(CheckpointBody.model_fields))
        payload["time"] = format_utc(self.time)
        return canonical_json(payload).encode()


class Checkpoint(CheckpointBody):
    signature: str

    @property
    def digest(self) -> str:
        """Names this checkpoint in its successor's `previous`."""
        return hashlib.sha256(self.signing_bytes() + b"." + self.signature.encode()).hexdigest()

    def document(self) -> str:
        """The text a witness stores (one JSON object, keys sorted, newline-terminated)."""
        payload: dict[str, Any] = json.loads(self.signing_bytes())
        payload["signature"] = self.signature
        return json.dumps(payload, sort_keys=True, indent=1) + "\n"

    def describe(self) -> str:
        return f"seq {self.seq} ({format_utc(self.time)}, hash {self.hash[:16]}…)"


def public_key_id(public: Ed25519PublicKey) -> str:
    """First 16 hex of the SHA-256 of the raw key: the same key always has the same id."""
    return hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def public_key_text(public: Ed25519PublicKey) -> str:
    """The raw key in base64url, the form `RETROFIT_AUDIT_PUBLIC_KEY` takes."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"not base64url: {text!r}") from None
    if len(raw) != 32:
        raise ValueError(f"not a raw Ed25519 public key (32 bytes): {text!r}")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(
    private: Ed25519PrivateKey,
    *,
    store: str,
    seq: int,
    hash: str,
    count: int,
    time: datetime,
    previous: str | None,
) -> Checkpoint:
    body = CheckpointBody(
        store=store,
        seq=seq,
        hash=hash,
        count=count,
        time=time,
        previous=previous,
        key_id=public_key_id(private.public_key()),
    )
    signature = base64.urlsafe_b64encode(private.sign(body.signing_bytes())).rstrip(b"=").decode()
    return Checkpoint(**body.model_dump(), signature=signature)


def read_checkpoint(text: str, keys: dict[str, Ed25519PublicKey], store: str) -> Checkpoint:
    """Parse and check one witness entry; CheckpointError says what is wrong with it.

    `keys` maps key id -> public key: the keys the operator trusts to sign checkpoints.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"not JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise CheckpointError("not a JSON object")
    if not raw.get("signature"):
        raise CheckpointError("unsigned: it has no signature")
    try:
        checkpoint = Checkpoint.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in exc.errors()
        )
        raise CheckpointError(f"not a valid checkpoint ({problems})") from None
    if checkpoint.store != store:
        raise CheckpointError(f"it belongs to another store ({checkpoint.store!r})")
    public = keys.get(checkpoint.key_id)
    if public is None:
        known = ", ".join(sorted(keys)) or "none"
        raise CheckpointError(
            f"signed by an unknown key {checkpoint.key_id!r} (trusted: {known}): forged or replaced"
        )
    try:
        signature = base64.urlsafe_b64decode(checkpoint.signature + "=" * (-len(checkpoint.signature) % 4))
        public.verify(signature, checkpoint.signing_bytes())
    except (InvalidSignature, binascii.Error, ValueError):
        raise CheckpointError(
            f"its signature does not verify with key {checkpoint.key_id}: the checkpoint was forged or edited"
        ) from None
    return checkpoint
