"""WS-Security UsernameToken checking (PasswordText and PasswordDigest) for the demo ERP."""

from __future__ import annotations

import base64
import hashlib
import hmac

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

from legacy.erp.envelopes import WSSE, SoapFault

_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_DIGEST = "#PasswordDigest"


def authentication_failed() -> SoapFault:
    # WS-Security 1.1 (section 12) names this fault code; the message stays vague on purpose.
    return SoapFault("wsse:FailedAuthentication", "authentication failed")


def check_username_token(header: etree._Element | None, username: str, password: str) -> None:
    """Accept the request only with a UsernameToken for `username` and the right password."""
    token = None if header is None else header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        raise authentication_failed()
    presented_user = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
    password_element = token.find(f"{{{WSSE}}}Password")
    if password_element is None:
        raise authentication_failed()
    presented = (password_element.text or "").strip()
    if password_element.get("Type", "").endswith(_DIGEST):
        # Digest = Base64(SHA-1(nonce + created + password)), per the UsernameToken profile.
        try:
            nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "", validate=True)
        except ValueError:
            raise authentication_failed() from None
        created = (token.findtext(f"{{{_WSU}}}Created") or "").encode()
        expected = base64.b64encode(hashlib.sha1(nonce + created + password.encode()).digest()).decode()
    else:
        expected = password
    # Compare both parts in constant time, and always both, so timing reveals neither.
    user_ok = hmac.compare_digest(presented_user.encode(), username.encode())
    password_ok = hmac.compare_digest(presented.encode(), expected.encode())
    if not (user_ok and password_ok):
        raise authentication_failed()
