"""An operator's Ed25519 private key kept in a PEM file: read it, or create it once.

Used by the two signers that must never share a key — the identity service (signed answers) and
the audit store (signed checkpoints) — so both get the same careful file handling.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)


def read_key(path: Path, what: str, error: type[Exception]) -> Ed25519PrivateKey:
    """The key in `path`, or `error` naming `what` (e.g. "the audit signing key") and the file."""
    try:
        private = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise error(f"{what} {path} is not an Ed25519 key")
    return private


def create_key(path: Path) -> None:
    """Generate a key into `path` unless one is there already (directory 0700, file 0600)."""
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
