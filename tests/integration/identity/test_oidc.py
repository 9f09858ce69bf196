"""OIDC ID tokens from an IdP: an RSA key made here, its JWKS served on loopback.

Attacks: wrong issuer, wrong audience, expired, a key the IdP does not publish, `alg: none`, and
HS256 signed with the published public key as the HMAC secret (algorithm confusion).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from retrofit.http_serving import ThreadedUvicorn
from retrofit.identity.oidc import OidcRefused, OidcVerifier
from retrofit.settings import RetrofitSettings

ISSUER = "https://idp.example.test"
AUDIENCE = "retrofit"
KID = "idp-key-1"


class Idp:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}
        self.fetches = 0

    def token(self, *, key: Any = None, kid: str = KID, alg: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "00u1",
            "preferred_username": "Erin",
            "name": "Erin Example",
            "groups": ["Ops", "finance"],
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        return jwt.encode(body, key or self.key, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[Idp, str]]:
    provider = Idp()

    async def jwks(request: Request) -> Response:
        provider.fetches += 1
        return JSONResponse(provider.jwks)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/jwks", jwks), Route("/health", health)])
    with ThreadedUvicorn(app, name="idp", health_path="/health") as server:
        yield provider, f"{server.url}/jwks"


@pytest.fixture
def verifier(idp: tuple[Idp, str]) -> OidcVerifier:
    return OidcVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=idp[1])


def test_valid_token_names_the_normalised_person_and_groups(
    idp: tuple[Idp, str], verifier: OidcVerifier
) -> None:
    user = verifier.verify(idp[0].token())
    assert (user.subject, user.name, user.groups) == ("erin", "Erin Example", ("finance", "ops"))


def test_from_settings_with_a_jwks_file(idp: tuple[Idp, str], tmp_path: Any) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(idp[0].jwks))
    settings = RetrofitSettings(
        identity_oidc_issuer=ISSUER, identity_oidc_audience=AUDIENCE, identity_oidc_jwks_file=path
    )
    verifier = OidcVerifier.from_settings(settings)
    assert verifier is not None
    assert verifier.verify(idp[0].token()).subject == "erin"
    assert OidcVerifier.from_settings(RetrofitSettings()) is None
    with pytest.raises(ValueError, match="AUDIENCE"):
        OidcVerifier.from_settings(RetrofitSettings(identity_oidc_issuer=ISSUER))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.example"}, "not issued by"),
        ({"aud": "someone-else"}, "not meant for"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"preferred_username": ""}, "no 'preferred_username'"),
        ({"groups": "admins"}, "not a list"),
    ],
)
def test_refused_claims(
    idp: tuple[Idp, str], verifier: OidcVerifier, claims: dict[str, Any], message: str
) -> None:
    with pytest.raises(OidcRefused, match=message):
        verifier.verify(idp[0].token(**claims))


def test_a_key_the_idp_does_not_publish(idp: tuple[Idp, str], verifier: OidcVerifier) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(OidcRefused, match="does not publish"):
        verifier.verify(idp[0].token(key=stranger, kid="other-kid"))
    # The right kid with the wrong key: the signature fails.
    with pytest.raises(OidcRefused, match="does not verify"):
        verifier.verify(idp[0].token(key=stranger))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forge(header: dict[str, Any], body: dict[str, Any], signature: bytes) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(body).encode())
    return head + "." + _b64(signature)


def test_alg_none_and_hs256_confusion_are_refused(idp: tuple[Idp, str], verifier: OidcVerifier) -> None:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "preferred_username": "mallory", "iat": now, "exp": now + 600}
    with pytest.raises(OidcRefused, match="'none'"):
        verifier.verify(_forge({"alg": "none", "kid": KID}, body, b""))
    # HS256 keyed with the IdP's published public key (what a confused verifier would accept).
    public_pem = idp[0].key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": KID, "typ": "JWT"}
    signing_input = (_b64(json.dumps(header).encode()) + "." + _b64(json.dumps(body).encode())).encode()
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    with pytest.raises(OidcRefused, match="'HS256'"):
        verifier.verify(_forge(header, body, mac))
    with pytest.raises(ValueError, match="asymmetric"):
        OidcVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=idp[1], algorithms=("RS256", "HS256"))


def test_garbage_and_unreachable_jwks() -> None:
    verifier = OidcVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:9/jwks")
    with pytest.raises(OidcRefused, match="not a JWT"):
        verifier.verify("not-a-token")
    with pytest.raises(OidcRefused, match="cannot reach"):
        verifier.verify(Idp().token())


def test_the_service_signs_answers_for_an_idp_user_and_the_cli_uses_the_token(
    idp: tuple[Idp, str], tmp_path: Any
) -> None:
    """Bearer <ID token> at /identity/answers and /identity/session; the CLI sends it from
    RETROFIT_IDENTITY_TOKEN; a token of another issuer gets nothing."""
    import base64 as b64
    import subprocess
    import sys
    from datetime import UTC, datetime
    from pathlib import Path

    import httpx

    from retrofit.embedded.identity_server import IdentityServer
    from retrofit.identity.keys import identity_pin
    from retrofit.identity.tokens import verify_answer

    provider, jwks_url = idp
    settings = RetrofitSettings(
        data_dir=tmp_path,
        identity_oidc_issuer=ISSUER,
        identity_oidc_audience=AUDIENCE,
        identity_oidc_jwks_url=jwks_url,
    )
    server = IdentityServer(settings, port=0)
    server.start()
    answer = {"workflow_id": "wf-1", "request_id": "apr-1", "args_hash": "c" * 64, "decision": "approve"}
    try:
        with httpx.Client(base_url=server.local_url) as http:
            token = provider.token(exp=int(time.time()) + 120)
            signed = http.post("/identity/answers", json=answer, headers={"Authorization": f"Bearer {token}"})
            assert signed.status_code == 200, signed.text
            claims = verify_answer(
                signed.json()["assertion"],
                identity_pin(settings),
                now=datetime.now(UTC),
                workflow_id="wf-1",
                request_id="apr-1",
                args_hash="c" * 64,
                decision="approve",
            )
            assert (claims.sub, claims.groups, claims.via) == ("erin", ("finance", "ops"), "oidc")
            # A session from an ID token lives no longer than the token.
            session = http.post("/identity/session", headers={"Authorization": f"Bearer {token}"}).json()
            assert datetime.fromisoformat(session["expires_at"]).timestamp() <= time.time() + 121
            evil = provider.token(iss="https://evil.example")
            refused = http.post("/identity/answers", json=answer, headers={"Authorization": f"Bearer {evil}"})
            assert refused.status_code == 401 and "not issued by" in refused.json()["error"]
            # No password login for IdP users who are not in the local directory.
            basic = b64.b64encode(b"erin:anything").decode()
            assert (
                http.post("/identity/session", headers={"Authorization": f"Basic {basic}"}).status_code == 401
            )

        env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("RETROFIT_")} | {
            "RETROFIT_IDENTITY_URL": server.local_url,
            "RETROFIT_DATA_DIR": str(tmp_path / "cli"),
            "RETROFIT_TEMPORAL_ADDRESS": "127.0.0.1:1",
            "RETROFIT_IDENTITY_TOKEN": provider.token(),
        }
        # The token is used (no password asked); Temporal is unreachable, which is the next error.
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "retrofit"),
                "start",
                "SingleAction",
                "--input",
                '{"action": "ledger.get_customer", "arguments": {"customer_id": "C-1001"}}',
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode == 1 and "cannot reach Temporal" in done.stderr, done.stderr
        env["RETROFIT_IDENTITY_TOKEN"] = provider.token(aud="someone-else")
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "retrofit"),
                "start",
                "SingleAction",
                "--input",
                '{"action": "ledger.get_customer", "arguments": {"customer_id": "C-1001"}}',
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode == 1 and "not meant for 'retrofit'" in done.stderr, done.stderr
    finally:
        server.stop()
