"""WS-Security for SOAP connectors: a UsernameToken from settings, applied as a zeep plugin.

zeep applies its `wsse=` objects *after* all plugins, so a capture plugin would record an
envelope without its Security header — not what went out. Applying the token as the first
plugin instead puts it in place before `ExchangeCapture` sees the envelope; the capture then
records (redacted) exactly what is sent.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from zeep import Plugin
from zeep.wsse.username import UsernameToken


class WsSecurityPlugin(Plugin):
    """Runs a zeep WS-Security object (`UsernameToken`, `Signature`, ...) as an egress plugin."""

    def __init__(self, wsse: Any) -> None:
        self._wsse = wsse

    def egress(
        self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any
    ) -> tuple[Any, Any]:
        envelope, http_headers = self._wsse.apply(envelope, http_headers)
        return envelope, http_headers


def username_token(username: str, password: SecretStr, *, digest: bool = False) -> WsSecurityPlugin:
    """A UsernameToken header (PasswordText, or PasswordDigest with a fresh nonce per message)."""
    # The secret leaves its SecretStr only here, into the object that writes it into envelopes.
    token = UsernameToken(username, password.get_secret_value(), use_digest=digest)  # type: ignore[no-untyped-call]
    return WsSecurityPlugin(token)
