"""The local user directory: who may log in to the identity service with a password.

Host-only. A TOML file (`RETROFIT_IDENTITY_DIRECTORY`, default `<data_dir>/identity/users.toml`;
`retrofit identity add-user` writes it):

    [users."alice"]
    name = "Alice Example"
    groups = ["finance"]
    password = "scrypt$16384$8$1$<salt b64>$<hash b64>"

User names and groups are stored normalised (`claims.normalise_subject`): `OPS`, ` ops ` and
`ｏｐｓ` are one person. Passwords are scrypt hashes (stdlib `hashlib.scrypt`), compared in
constant time; an unknown user costs the same hash as a known one and gets the same answer as a
wrong password, so the directory cannot be probed for names.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from retrofit.identity.claims import normalise_subject
from retrofit.settings import RetrofitSettings

# scrypt cost: 16 MiB and ~50 ms a check on a small machine; fixed per hash in its text, so raising
# it later leaves old hashes verifiable.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_PASSWORD_CHARS = 1024


class DirectoryError(ValueError):
    """The directory file cannot be read or holds something malformed."""


class LoginFailed(Exception):
    """Unknown user or wrong password: deliberately one error with one message."""

    def __init__(self) -> None:
        super().__init__("unknown user or wrong password")


class DirectoryUser(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="", max_length=128)  # display name
    groups: tuple[str, ...] = ()
    password: str = Field(pattern=r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$")

    @field_validator("groups")
    @classmethod
    def _normalised_groups(cls, groups: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({normalise_subject(g) for g in groups if normalise_subject(g)}))


@dataclass(frozen=True)
class VerifiedUser:
    subject: str  # normalised login name
    name: str  # display name
    groups: tuple[str, ...]
    # When the proof of this login expires (an ID token's exp); None: a password, checked now.
    expires_at: int | None = None


def directory_path(settings: RetrofitSettings) -> Path:
    return settings.identity_directory or settings.data_dir / "identity" / "users.toml"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, encoded: str) -> bool:
    try:
        _, n, r, p, salt, expected = encoded.split("$")
        digest = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(digest, base64.b64decode(expected))
    except (ValueError, TypeError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """Checked for unknown users, so they cost what a known user costs."""
    return hash_password(secrets.token_urlsafe(16))


class Directory:
    """Users by normalised subject, read from the TOML file (re-read when it changes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._users: dict[str, DirectoryUser] = {}
        self._stamp: tuple[int, int] | None = None

    @classmethod
    def from_settings(cls, settings: RetrofitSettings) -> Directory:
        return cls(directory_path(settings))

    def users(self) -> dict[str, DirectoryUser]:
        self._reload()
        return dict(self._users)

    def get(self, subject: str) -> VerifiedUser | None:
        """The user as the directory holds them now (a removed user's session stops working)."""
        user = self.users().get(normalise_subject(subject))
        if user is None:
            return None
        return VerifiedUser(normalise_subject(subject), user.name, user.groups)

    def authenticate(self, login: str, password: str) -> VerifiedUser:
        subject = normalise_subject(login)
        user = self.users().get(subject) if subject else None
        if len(password) > _MAX_PASSWORD_CHARS:
            password = password[:_MAX_PASSWORD_CHARS]  # bounded cost; still checked (and fails)
        ok = check_password(password, user.password if user else _dummy_hash())
        if user is None or not ok:
            raise LoginFailed()
        return VerifiedUser(subject, user.name, user.groups)

    def add_user(self, login: str, password: str, *, name: str = "", groups: tuple[str, ...] = ()) -> str:
        """Add or replace a user; returns the normalised subject."""
        subject = normalise_subject(login)
        if not subject or len(subject) > 128:
            raise DirectoryError(f"not a user name: {login!r}")
        if not password:
            raise DirectoryError("a password is needed")
        users = self.users()
        users[subject] = DirectoryUser(name=name or subject, groups=groups, password=hash_password(password))
        self._write(users)
        return subject

    def remove_user(self, login: str) -> bool:
        users = self.users()
        if users.pop(normalise_subject(login), None) is None:
            return False
        self._write(users)
        return True

    def _reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._users, self._stamp = {}, None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            raw = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DirectoryError(f"cannot read the identity directory {self.path}: {exc}") from None
        table = raw.get("users", {})
        if not isinstance(table, dict):
            raise DirectoryError(f"{self.path}: [users] must be a table")
        users: dict[str, DirectoryUser] = {}
        for login, entry in table.items():
            try:
                user = DirectoryUser.model_validate(entry)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise DirectoryError(
                    f"{self.path}: user {login!r}: {'.'.join(map(str, first['loc']))}: {first['msg']}"
                ) from None
            subject = normalise_subject(login)
            if subject in users:
                raise DirectoryError(
                    f"{self.path}: {login!r} is listed twice (names are compared normalised)"
                )
            users[subject] = user
        self._users, self._stamp = users, stamp

    def _write(self, users: dict[str, DirectoryUser]) -> None:
        lines = [
            "# Retrofit identity directory (retrofit identity add-user). Names and groups are",
            "# normalised; passwords are scrypt hashes. Keep this file readable by the service only.",
        ]
        for subject in sorted(users):
            user = users[subject]
            lines += [
                "",
                f"[users.{json.dumps(subject, ensure_ascii=False)}]",
                f"name = {json.dumps(user.name, ensure_ascii=False)}",
                f"groups = {json.dumps(list(user.groups), ensure_ascii=False)}",
                f"password = {json.dumps(user.password)}",
            ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.replace(tmp, self.path)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=_KEY_BYTES
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
