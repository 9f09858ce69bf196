"""Auth flows for REST connectors, each an `httpx.Auth` in its own module.

ApiKeyAuth               api_key          a static key in a header
BasicAuth                basic            HTTP Basic, password as SecretStr
BearerAuth               bearer           a static bearer token
OAuth2ClientCredentials  oauth2           client-credentials grant; cached, renewed, retried once on 401
SessionAuth              session          login once, keep the cookie, log in again on 401 once
CredentialFlow           credential_flow  the base of the last two, for other fetched credentials;
                                          failed fetches held (LoginLockedOut for lockouts)
"""

from connectors.rest.auth.api_key import ApiKeyAuth
from connectors.rest.auth.basic import BasicAuth
from connectors.rest.auth.bearer import BearerAuth
from connectors.rest.auth.credential_flow import CredentialFlow, LoginLockedOut
from connectors.rest.auth.oauth2 import OAuth2ClientCredentials
from connectors.rest.auth.session import SessionAuth

__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "CredentialFlow",
    "LoginLockedOut",
    "OAuth2ClientCredentials",
    "SessionAuth",
]
