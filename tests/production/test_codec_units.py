"""The codec, its key settings and its HTTP server — no Temporal needed."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from retrofit.codec import (
    ENCODING,
    KEY_ID_METADATA,
    AesGcmCodec,
    CodecConfigError,
    PayloadDecryptionError,
    UnknownKeyError,
    parse_keyring,
)
from retrofit.codec.converter import RETROFIT_DATA_CONVERTER, data_converter
from retrofit.codec.server import codec_app
from retrofit.http_serving import ThreadedUvicorn
from retrofit.settings import RetrofitSettings
from tests.production.codec_support import codec_settings, new_key

UI_ORIGIN = "http://localhost:8233"


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_no_keys_means_no_codec_and_plain_pydantic_payloads() -> None:
    assert parse_keyring(None, None) is None
    assert data_converter(RetrofitSettings(codec_keys=None)) is RETROFIT_DATA_CONVERTER


def test_keys_parse_from_json_or_comma_list() -> None:
    k1, k2 = new_key(), new_key()
    ring = parse_keyring(f"k1:{_b64(k1)}, k2:{_b64(k2)}", "k2")
    assert ring is not None and ring.active == "k2" and dict(ring.keys) == {"k1": k1, "k2": k2}
    ring = parse_keyring(f'{{"only": "{_b64(k1)}"}}', None)
    assert ring is not None and ring.active == "only"


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ("k1:not base64!", "k1", "not valid base64"),
        (f"k1:{_b64(b'short')}", "k1", "AES-GCM needs 16, 24 or 32"),
        (f"k1:{_b64(bytes(32))},k2:{_b64(bytes(32))}", None, "name one in RETROFIT_CODEC_ACTIVE_KEY"),
        (f"k1:{_b64(bytes(32))}", "k9", "active codec key 'k9' is not in"),
        ("justakey", None, "keyid:base64key"),
        ("{not json", None, "not valid JSON"),
        (None, "k1", "RETROFIT_CODEC_KEYS is empty"),
    ],
)
def test_bad_key_settings_fail_clearly_without_echoing_keys(
    keys: str | None, active: str | None, message: str
) -> None:
    with pytest.raises(CodecConfigError, match=message) as info:
        parse_keyring(keys, active)
    assert "justakey" not in str(info.value)


async def test_encrypts_with_active_key_and_rotated_ring_reads_old_payloads() -> None:
    k1, k2 = new_key(), new_key()
    old = AesGcmCodec(parse_keyring(f"k1:{_b64(k1)}", "k1"))  # type: ignore[arg-type]
    rotated = AesGcmCodec(parse_keyring(f"k1:{_b64(k1)},k2:{_b64(k2)}", "k2"))  # type: ignore[arg-type]
    only_new = AesGcmCodec(parse_keyring(f"k2:{_b64(k2)}", "k2"))  # type: ignore[arg-type]
    original = pydantic_data_converter.payload_converter.to_payloads(
        [{"customer": "Nordwind", "id": "C-1001"}]
    )

    [sealed_old] = await old.encode(original)
    assert sealed_old.metadata["encoding"] == ENCODING and sealed_old.metadata[KEY_ID_METADATA] == b"k1"
    assert b"Nordwind" not in sealed_old.SerializeToString()
    assert await rotated.decode([sealed_old]) == original
    [sealed_new] = await rotated.encode(original)
    assert sealed_new.metadata[KEY_ID_METADATA] == b"k2"
    assert await only_new.decode([sealed_new]) == original
    with pytest.raises(UnknownKeyError, match="'k1', which is not configured"):
        await only_new.decode([sealed_old])
    # Plaintext payloads (written before encryption was turned on) pass through.
    assert await only_new.decode(original) == original
    # A relabelled or altered payload does not decrypt.
    tampered = type(sealed_new)()
    tampered.CopyFrom(sealed_new)
    tampered.data = tampered.data[:-1] + bytes([tampered.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError):
        await rotated.decode([tampered])


@pytest.fixture
def codec_server() -> Iterator[tuple[str, str]]:
    settings = codec_settings({"k1": new_key()}, "k1")
    codec = AesGcmCodec(parse_keyring(settings.codec_keys, "k1"))  # type: ignore[arg-type]
    app = codec_app(codec, cors_origins=[UI_ORIGIN], token="s3cret")
    with ThreadedUvicorn(app, name="codec", health_path="/health") as server:
        yield server.url, "s3cret"


async def test_codec_server_round_trip_cors_and_token(codec_server: tuple[str, str]) -> None:
    url, token = codec_server
    original = pydantic_data_converter.payload_converter.to_payloads([{"email": "jane.doe@example.com"}])
    body = json_format.MessageToDict(Payloads(payloads=original))
    auth = {"Authorization": f"Bearer {token}", "X-Namespace": "default", "Origin": UI_ORIGIN}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        assert (await http.post("/encode", json=body)).status_code == 401
        wrong = await http.post("/encode", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        encoded = await http.post("/encode", json=body, headers=auth)
        assert encoded.status_code == 200
        assert encoded.headers["access-control-allow-origin"] == UI_ORIGIN
        [sealed] = encoded.json()["payloads"]
        assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
        assert b"jane.doe" not in base64.b64decode(sealed["data"])

        decoded = await http.post("/decode", json=encoded.json(), headers=auth)
        assert decoded.status_code == 200
        back = json_format.ParseDict(decoded.json(), Payloads())
        assert list(back.payloads) == list(original)

        # The browser's preflight carries no token; it must still pass for the UI's origin only.
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-namespace,content-type",
        }
        ok = await http.options("/decode", headers={**preflight, "Origin": UI_ORIGIN})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == UI_ORIGIN
        other = await http.options("/decode", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers

        garbage = await http.post("/decode", content=b"not json", headers=auth)
        assert garbage.status_code == 400
        foreign = AesGcmCodec(parse_keyring(f"k9:{_b64(new_key())}", "k9"))  # type: ignore[arg-type]
        unknown = json_format.MessageToDict(Payloads(payloads=await foreign.encode(original)))
        refused = await http.post("/decode", json=unknown, headers=auth)
        assert refused.status_code == 422 and "'k9'" in refused.text
