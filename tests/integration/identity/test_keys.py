"""The signing key file and the pin workers verify with: permissions, stable kid, rotation."""

from __future__ import annotations

import json
import stat
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrofit.identity.claims import AnswerClaims
from retrofit.identity.keys import (
    IdentityKeyError,
    identity_pin,
    load_signing_key,
    show_pin_json,
    signing_key_path,
)
from retrofit.identity.pin import IdentityMode
from retrofit.identity.tokens import IdentityRefused, public_key_text, sign, verify_answer
from retrofit.settings import RetrofitSettings

HASH = "ab" * 32


def _answer(kid_key: tuple[str, object]) -> str:
    kid, key = kid_key
    now = int(time.time())
    claims = AnswerClaims(
        iss="retrofit-identity",
        sub="alice",
        iat=now,
        exp=now + 300,
        jti=uuid.uuid4().hex,
        wf="wf-1",
        req="apr-1",
        hash=HASH,
        decision="approve",
    )
    return sign(claims, key, kid)  # type: ignore[arg-type]


def _verify(token: str, settings: RetrofitSettings) -> AnswerClaims:
    return verify_answer(
        token,
        identity_pin(settings),
        now=datetime.now(UTC),
        workflow_id="wf-1",
        request_id="apr-1",
        args_hash=HASH,
        decision="approve",
    )


def test_generated_on_first_use_private_to_the_owner(tmp_path: Path) -> None:
    settings = RetrofitSettings(data_dir=tmp_path / "data")
    path = signing_key_path(settings)
    assert not path.exists()
    kid, key = load_signing_key(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    # Stable: the same file gives the same kid and key; the kid is 16 hex.
    again_kid, again = load_signing_key(settings)
    assert again_kid == kid and len(kid) == 16 and int(kid, 16) >= 0
    assert public_key_text(again) == public_key_text(key)


def test_embedded_pin_is_derived_from_the_key_file(tmp_path: Path) -> None:
    settings = RetrofitSettings(data_dir=tmp_path, identity_url="http://id.example:9000/")
    kid, key = load_signing_key(settings)
    pin = identity_pin(settings)
    assert pin.mode is IdentityMode.VERIFIED
    assert pin.issuer == "retrofit-identity"
    assert pin.keys == {kid: public_key_text(key)}
    assert pin.login_url == "http://id.example:9000/login"
    assert json.loads(show_pin_json(settings)) == pin.keys
    assert _verify(_answer((kid, key)), settings).sub == "alice"


def test_trusted_namespace_only_when_set(tmp_path: Path) -> None:
    assert identity_pin(RetrofitSettings(data_dir=tmp_path)).mode is IdentityMode.VERIFIED
    relaxed = RetrofitSettings(data_dir=tmp_path, identity_mode=IdentityMode.TRUSTED_NAMESPACE)
    assert identity_pin(relaxed).mode is IdentityMode.TRUSTED_NAMESPACE


def test_rotation_two_pinned_keys_old_still_verifies(tmp_path: Path) -> None:
    old_settings = RetrofitSettings(data_dir=tmp_path / "old")
    new_settings = RetrofitSettings(data_dir=tmp_path / "new")
    old, new = load_signing_key(old_settings), load_signing_key(new_settings)
    assert old[0] != new[0]
    # A production worker: no private key, both public keys pinned during the rollover.
    worker = RetrofitSettings(
        data_dir=tmp_path / "worker",
        identity_public_keys=json.dumps({old[0]: public_key_text(old[1]), new[0]: public_key_text(new[1])}),
    )
    assert _verify(_answer(old), worker).sub == "alice"
    assert _verify(_answer(new), worker).sub == "alice"
    assert not signing_key_path(worker).exists(), "a worker with pinned keys must not grow a private key"
    # After the old key is dropped from the pin, its answers are refused.
    only_new = RetrofitSettings(
        data_dir=tmp_path / "worker", identity_public_keys=json.dumps({new[0]: public_key_text(new[1])})
    )
    with pytest.raises(IdentityRefused, match="unknown key"):
        _verify(_answer(old), only_new)


def test_a_key_with_the_pinned_kid_but_another_key_is_refused(tmp_path: Path) -> None:
    real = load_signing_key(RetrofitSettings(data_dir=tmp_path / "real"))
    _, attacker = load_signing_key(RetrofitSettings(data_dir=tmp_path / "attacker"))
    worker = RetrofitSettings(
        data_dir=tmp_path / "w", identity_public_keys=json.dumps({real[0]: public_key_text(real[1])})
    )
    with pytest.raises(IdentityRefused, match="does not verify"):
        _verify(_answer((real[0], attacker)), worker)


@pytest.mark.parametrize(
    "value",
    ["not json", "[]", "{}", '{"k": 5}', '{"k": "c2hvcnQ"}', '{"k": "!!!"}'],
)
def test_malformed_public_keys_are_a_clear_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(IdentityKeyError):
        identity_pin(RetrofitSettings(data_dir=tmp_path, identity_public_keys=value))


def test_unreadable_or_wrong_key_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(IdentityKeyError, match="cannot read"):
        load_signing_key(RetrofitSettings(identity_signing_key_file=bad))
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    other = tmp_path / "ec.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    with pytest.raises(IdentityKeyError, match="not an Ed25519"):
        load_signing_key(RetrofitSettings(identity_signing_key_file=other))
