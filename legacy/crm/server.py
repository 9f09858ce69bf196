"""Run the demo CRM: on a background thread for tests, or in the foreground for the demo.

In tests (127.0.0.1, a free port unless one is given):

    with CrmServer(token_lifetime_seconds=60) as crm:
        token = httpx.post(f"{crm.url}/oauth/token", data={"grant_type": "client_credentials",
                           "client_id": crm.client_id, "client_secret": crm.client_secret}).json()

In the foreground: `python -m legacy.crm.server --port 8703` (Ctrl-C stops it; `--port 0` picks a
free port and prints it).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from legacy.crm.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from legacy.crm.store import DEFAULT_TOKEN_LIFETIME, CrmState
from legacy.faults import ConnectionDropped
from retrofit.http_serving import ThreadedUvicorn, serve_foreground

_SECRET_ENV = "CRM_CLIENT_SECRET"


class CrmServer(ThreadedUvicorn):
    """The demo CRM served by uvicorn on a background thread (`start()`/`stop()`, or `with`).

    `state` is live and thread-safe: tests may read it, change the fault plan or revoke tokens.
    `startup_seconds` is how long the last `start()` took until the server answered.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME,
        state: CrmState | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.state = state if state is not None else CrmState(token_lifetime_seconds=token_lifetime_seconds)
        super().__init__(
            create_app(self.state, clients={client_id: client_secret}),
            name="crm-server",
            host=host,
            port=port,
            health_path="/_admin/health",
            expected_errors=(ConnectionDropped,),
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m legacy.crm.server", description="Run the demo CRM.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8703)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument(
        "--client-secret",
        default=os.environ.get(_SECRET_ENV, DEFAULT_CLIENT_SECRET),
        help=f"the OAuth client secret (default: ${_SECRET_ENV} or the demo secret)",
    )
    parser.add_argument("--token-lifetime", type=int, default=DEFAULT_TOKEN_LIFETIME, help="seconds")
    args = parser.parse_args(argv)

    state = CrmState(token_lifetime_seconds=args.token_lifetime)
    app = create_app(state, clients={args.client_id: args.client_secret})
    # The secret is deliberately not printed: it may be a real one passed through the environment.
    serve_foreground(
        app, host=args.host, port=args.port, banner="demo CRM", expected_errors=(ConnectionDropped,)
    )


if __name__ == "__main__":
    main()
