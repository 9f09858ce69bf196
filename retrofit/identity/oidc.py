"""Verify an OIDC ID token from the company's IdP: the production way to log in.

Host-only. The IdP signs ID tokens with keys it publishes as a JWKS (`RETROFIT_IDENTITY_OIDC_JWKS_URL`,
or a file for an air-gapped setup: `..._JWKS_FILE`). A token is accepted only when it is signed
by one of those keys with an asymmetric algorithm from `RETROFIT_IDENTITY_OIDC_ALGORITHMS` (never
`none`, never HS256: a JWKS's public key must not double as an HMAC secret), is issued by
`RETROFIT_IDENTITY_OIDC_ISSUER` for `RETROFIT_IDENTITY_OIDC_AUDIENCE`, and has not expired. The
person is the `RETROFIT_IDENTITY_OIDC_SUBJECT_CLAIM` (normalised); their groups are the
`..._GROUPS_CLAIM` list.
"""

from __future__ import annotations

import json
from typing import Any

import jwt

from retrofit.identity.claims import normalise_subject
from retrofit.identity.directory import VerifiedUser
from retrofit.settings import RetrofitSettings

_SYMMETRIC_OR_NONE = {"none", "HS256", "HS384", "HS512"}
_LEEWAY_SECONDS = 30


class OidcRefused(Exception):
    """The ID token does not prove who it claims; the message says why (never echoing the token)."""


class OidcVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        subject_claim: str = "preferred_username",
        groups_claim: str = "groups",
        algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256"),
    ) -> None:
        if (jwks_url is None) == (jwks is None):
            raise ValueError("an OIDC verifier needs exactly one of a JWKS URL and a JWKS")
        unsafe = _SYMMETRIC_OR_NONE.intersection(algorithms)
        if unsafe:
            raise ValueError(f"OIDC algorithms must be asymmetric; refusing {sorted(unsafe)}")
        self.issuer = issuer
        self.audience = audience
        self.subject_claim = subject_claim
        self.groups_claim = groups_claim
        self.algorithms = algorithms
        self._client = jwt.PyJWKClient(jwks_url, lifespan=300, timeout=5) if jwks_url else None
        self._jwks = jwt.PyJWKSet.from_dict(jwks) if jwks is not None else None

    @classmethod
    def from_settings(cls, settings: RetrofitSettings) -> OidcVerifier | None:
        """The configured verifier, or None when OIDC is not set up."""
        if not settings.identity_oidc_issuer:
            return None
        if not settings.identity_oidc_audience:
            raise ValueError(
                "RETROFIT_IDENTITY_OIDC_ISSUER is set but RETROFIT_IDENTITY_OIDC_AUDIENCE is not"
            )
        jwks: dict[str, Any] | None = None
        if settings.identity_oidc_jwks_file is not None:
            try:
                jwks = json.loads(settings.identity_oidc_jwks_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"cannot read RETROFIT_IDENTITY_OIDC_JWKS_FILE: {exc}") from None
        elif not settings.identity_oidc_jwks_url:
            raise ValueError("OIDC needs RETROFIT_IDENTITY_OIDC_JWKS_URL or RETROFIT_IDENTITY_OIDC_JWKS_FILE")
        return cls(
            issuer=settings.identity_oidc_issuer,
            audience=settings.identity_oidc_audience,
            jwks_url=None if jwks is not None else settings.identity_oidc_jwks_url,
            jwks=jwks,
            subject_claim=settings.identity_oidc_subject_claim,
            groups_claim=settings.identity_oidc_groups_claim,
            algorithms=tuple(a.strip() for a in settings.identity_oidc_algorithms.split(",") if a.strip()),
        )

    def verify(self, token: str) -> VerifiedUser:
        """The verified person, or `OidcRefused`. Blocking when the JWKS is fetched: run in a thread."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcRefused("the ID token is not a JWT") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise OidcRefused(
                f"ID tokens must be signed with one of {', '.join(self.algorithms)}, not {alg!r}"
            )
        key = self._signing_key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise OidcRefused("the ID token has expired: log in at the IdP again") from None
        except jwt.InvalidAudienceError:
            raise OidcRefused(f"the ID token is not meant for {self.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise OidcRefused(f"the ID token was not issued by {self.issuer!r}") from None
        except jwt.PyJWTError as exc:
            raise OidcRefused(f"the ID token does not verify: {exc}") from None
        raw_subject = claims.get(self.subject_claim)
        if not isinstance(raw_subject, str) or not normalise_subject(raw_subject):
            raise OidcRefused(f"the ID token has no {self.subject_claim!r} claim naming the person")
        subject = normalise_subject(raw_subject)
        if len(subject) > 128:
            raise OidcRefused("the ID token's subject is longer than 128 characters")
        raw_groups = claims.get(self.groups_claim, [])
        if not isinstance(raw_groups, list) or not all(isinstance(g, str) for g in raw_groups):
            raise OidcRefused(f"the ID token's {self.groups_claim!r} claim is not a list of names")
        groups = tuple(sorted({normalise_subject(g) for g in raw_groups if normalise_subject(g)}))
        name = claims.get("name")
        return VerifiedUser(subject, name if isinstance(name, str) else subject, groups, int(claims["exp"]))

    def _signing_key(self, kid: object) -> Any:
        if not isinstance(kid, str) or not kid:
            raise OidcRefused("the ID token names no signing key (kid)")
        try:
            if self._client is not None:
                return self._client.get_signing_key(kid).key
            assert self._jwks is not None
            return self._jwks[kid].key
        except KeyError:
            raise OidcRefused(f"the ID token is signed by a key the IdP does not publish ({kid!r})") from None
        except jwt.PyJWKClientConnectionError:
            raise OidcRefused("cannot reach the IdP's JWKS to check the ID token") from None
        except jwt.PyJWKClientError:
            raise OidcRefused(f"the ID token is signed by a key the IdP does not publish ({kid!r})") from None
