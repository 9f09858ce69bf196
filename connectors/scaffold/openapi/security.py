"""Security schemes → connector settings (credentials as SecretStr) and the `build_auth` member.

One scheme is wired: the one the document requires at its top level, else the one most operations
require, else the first declared. The others are listed for review. Credentials are settings,
never action inputs: the model choosing arguments must never see or pick them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from connectors.scaffold.openapi.document import Document, RefError, as_dict
from connectors.scaffold.package import SettingField

_AUTH_IMPORT = "import httpx"


@dataclass
class Security:
    settings: list[SettingField] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    review: list[str] = field(default_factory=list)
    #: Header (lower-case) and query parameter names the wired scheme sends: not action inputs.
    credential_headers: set[str] = field(default_factory=set)
    credential_query: set[str] = field(default_factory=set)


def _secret(name: str, description: str) -> SettingField:
    return SettingField(name, "SecretStr", None, description, secret=True)


def _required_schemes(doc: Document) -> list[str]:
    top = doc.root.get("security")
    if isinstance(top, list):
        names = [n for req in top if isinstance(req, dict) for n in req]
        if names:
            return names
    counts: Counter[str] = Counter()
    for item in doc.root.get("paths", {}).values():
        if not isinstance(item, dict):
            continue
        for op in item.values():
            if isinstance(op, dict) and isinstance(op.get("security"), list):
                counts.update(n for req in op["security"] if isinstance(req, dict) for n in req)
    return [n for n, _ in counts.most_common()]


def read_security(doc: Document) -> Security:
    out = Security()
    declared = as_dict(as_dict(doc.root.get("components")).get("securitySchemes"))
    schemes: dict[str, dict[str, Any]] = {}
    for name, scheme in declared.items():
        try:
            resolved = doc.deref(scheme)
        except RefError:
            out.review.append(f"Security scheme {name!r} is a $ref that cannot be followed; not wired.")
            continue
        if isinstance(resolved, dict):
            schemes[str(name)] = resolved
    if not schemes:
        out.review.append(
            "The description declares no security scheme: add auth in `build_auth()` if the system needs it."
        )
        return out
    order = [n for n in _required_schemes(doc) if n in schemes] + [n for n in schemes]
    chosen = order[0]
    for name in schemes:
        if name != chosen:
            out.review.append(
                f"Security scheme {name!r} ({schemes[name].get('type')}) is not wired; {chosen!r} is."
            )
    _wire(chosen, schemes[chosen], out)
    return out


def _wire(name: str, scheme: dict[str, Any], out: Security) -> None:
    kind = str(scheme.get("type", "")).lower()
    if kind == "apikey":
        where, header = str(scheme.get("in", "header")).lower(), str(scheme.get("name") or "X-Api-Key")
        out.settings.append(_secret("api_key", f"API key ({name}), sent as {where} {header!r}"))
        if where == "header":
            out.credential_headers.add(header.lower())
            out.imports |= {"from connectors.rest import ApiKeyAuth", _AUTH_IMPORT}
            out.members += [
                "def build_auth(self) -> httpx.Auth | None:",
                f"    return ApiKeyAuth(self.settings.api_key, header={header!r})",
            ]
        elif where == "query":
            out.credential_query.add(header)
            out.imports |= {_AUTH_IMPORT, "from collections.abc import Generator"}
            out.members += [
                "def build_auth(self) -> httpx.Auth | None:",
                "    key, param = self.settings.api_key, " + repr(header),
                "",
                "    class QueryKey(httpx.Auth):",
                "        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:",
                "            request.url = request.url.copy_merge_params({param: key.get_secret_value()})",
                "            yield request",
                "",
                "    return QueryKey()",
            ]
            out.review.append(
                f"The API key travels in the query ({header!r}): it can reach server logs; prefer a header if the system allows."
            )
        else:
            out.review.append(
                f"API key {name!r} is sent in a {where}: not wired, write `build_auth()` by hand."
            )
        return
    if kind == "http":
        http = str(scheme.get("scheme", "")).lower()
        if http == "basic":
            out.settings += [
                SettingField("username", "str", None, f"user name for HTTP Basic ({name})"),
                _secret("password", f"password for HTTP Basic ({name})"),
            ]
            out.imports |= {"from connectors.rest import BasicAuth", _AUTH_IMPORT}
            out.members += [
                "def build_auth(self) -> httpx.Auth | None:",
                "    return BasicAuth(self.settings.username, self.settings.password)",
            ]
            out.credential_headers.add("authorization")
            return
        if http == "bearer":
            out.settings.append(_secret("bearer_token", f"bearer token ({name})"))
            _bearer(out)
            return
        out.review.append(f"HTTP auth scheme {http!r} ({name}) is not wired: write `build_auth()` by hand.")
        return
    if kind == "oauth2":
        flows = as_dict(scheme.get("flows"))
        client = flows.get("clientCredentials")
        if isinstance(client, dict) and isinstance(client.get("tokenUrl"), str):
            scopes = as_dict(client.get("scopes"))
            out.settings += [
                SettingField("token_url", "str", repr(client["tokenUrl"]), f"OAuth2 token endpoint ({name})"),
                SettingField("client_id", "str", None, f"OAuth2 client id ({name})"),
                _secret("client_secret", f"OAuth2 client secret ({name})"),
                SettingField(
                    "scope",
                    "str | None",
                    repr(" ".join(map(str, scopes))) if scopes else "None",
                    "space-separated OAuth2 scopes to ask for: narrow them to what the actions need",
                ),
            ]
            out.imports |= {"from connectors.rest import OAuth2ClientCredentials", _AUTH_IMPORT}
            out.members += [
                "def build_auth(self) -> httpx.Auth | None:",
                "    s = self.settings",
                "    return OAuth2ClientCredentials(s.token_url, s.client_id, s.client_secret, scope=s.scope, system=self.name)",
            ]
            out.credential_headers.add("authorization")
            return
        flow_names = ", ".join(sorted(map(str, flows))) or "none"
        out.settings.append(_secret("access_token", f"OAuth2 access token ({name}; flows: {flow_names})"))
        _bearer(out)
        out.review.append(
            f"OAuth2 ({name}) offers the {flow_names} flow(s), which need a person to sign in: the connector "
            "sends a token you obtain yourself (`access_token`). Such tokens expire; wire a refresh "
            "(a `CredentialFlow`) before production."
        )
        return
    if kind == "openidconnect":
        out.settings.append(_secret("access_token", f"OpenID Connect access token ({name})"))
        _bearer(out)
        out.review.append(f"OpenID Connect ({name}): the connector sends a token you obtain yourself.")
        return
    out.review.append(
        f"Security scheme {name!r} of type {kind!r} is not wired: write `build_auth()` by hand."
    )


def _bearer(out: Security) -> None:
    token = out.settings[-1].name
    out.imports |= {"from connectors.rest import BearerAuth", _AUTH_IMPORT}
    out.members += [
        "def build_auth(self) -> httpx.Auth | None:",
        f"    return BearerAuth(self.settings.{token})",
    ]
    out.credential_headers.add("authorization")
