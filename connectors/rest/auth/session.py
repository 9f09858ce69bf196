"""Session login: POST credentials once, then send the session cookie the server set."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx
from pydantic import SecretStr

from connectors.rest.auth.credential_flow import CredentialFlow
from retrofit.sdk import AuthError


class SessionAuth(CredentialFlow[httpx.Cookies]):
    """Logs in at `login_path` and keeps the cookies the answer set; logs in again on a 401, once.

    `credentials` become the login body: a form by default, JSON with `as_json=True`; secret values
    are `SecretStr` and revealed only on the wire. The cookies live here rather than in the
    client's jar, which the REST base keeps empty so that no other state is shared across calls.
    Statuses in `rejected_statuses` mean "session expired"; some systems answer 403 or 419, so
    subclasses or callers may widen it. A refused or rate-limited login is remembered and not
    retried for a while (see `CredentialFlow`): failed logins must not lock the account.
    """

    def __init__(
        self,
        login_path: str,
        credentials: Mapping[str, str | SecretStr],
        *,
        as_json: bool = False,
        rejected_statuses: tuple[int, ...] = (401,),
        system: str = "session",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(system=system, clock=clock)
        self.login_path = login_path
        self.rejected_statuses = rejected_statuses
        self._credentials = dict(credentials)
        self._as_json = as_json

    def credential_request(self, request: httpx.Request) -> httpx.Request:
        body = {
            name: value.get_secret_value() if isinstance(value, SecretStr) else value
            for name, value in self._credentials.items()
        }
        if self._as_json:
            return self.fetch_request(self.login_path, request, json=body)
        return self.fetch_request(self.login_path, request, data=body)

    def accept(self, response: httpx.Response) -> httpx.Cookies:
        if not response.is_success:
            raise self.refused(response)
        cookies = httpx.Cookies()
        cookies.extract_cookies(response)
        if not cookies.jar:
            raise AuthError(f"{self.system} login answered {response.status_code} but set no session cookie")
        return cookies

    def apply(self, credential: httpx.Cookies, request: httpx.Request) -> None:
        # Replace, not add: on the retry after a 401 the request still carries the dead session.
        request.headers.pop("Cookie", None)
        credential.set_cookie_header(request)
