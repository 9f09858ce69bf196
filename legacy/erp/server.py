"""Run the demo ERP: on a background thread for tests, or in the foreground for the demo.

In tests (127.0.0.1, a free port unless one is given):

    with ErpServer() as erp:
        erp.wsdl_url            # http://127.0.0.1:<port>/erp?wsdl

In the foreground: `python -m legacy.erp.server --port 8702` (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from legacy.erp.app import DEFAULT_PASSWORD, DEFAULT_USERNAME, create_app
from legacy.erp.store import ErpState
from legacy.faults import ConnectionDropped
from retrofit.http_serving import ThreadedUvicorn, serve_foreground

_USERNAME_ENV = "ERP_USERNAME"
_PASSWORD_ENV = "ERP_PASSWORD"


class ErpServer(ThreadedUvicorn):
    """The demo ERP served by uvicorn on a daemon thread (`start()`/`stop()`, or `with`).

    `state` is live and thread-safe: tests may read it or reset it. With `username` and
    `password` (the defaults) every SOAP call needs a matching WS-Security UsernameToken; pass
    `username=None` for an open server. `startup_seconds` is how long `start()` took.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str | None = DEFAULT_USERNAME,
        password: str | None = DEFAULT_PASSWORD,
        state: ErpState | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.state = state if state is not None else ErpState()
        super().__init__(
            create_app(self.state, username=username, password=password),
            name="erp-server",
            host=host,
            port=port,
            health_path="/_admin/health",
            expected_errors=(ConnectionDropped,),
        )

    @property
    def wsdl_url(self) -> str:
        return f"{self.url}/erp?wsdl"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m legacy.erp.server", description="Run the demo SOAP ERP in the foreground."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--username", default=os.environ.get(_USERNAME_ENV, DEFAULT_USERNAME))
    parser.add_argument(
        "--password",
        default=os.environ.get(_PASSWORD_ENV, DEFAULT_PASSWORD),
        help=f"WS-Security password (default: ${_PASSWORD_ENV} or the demo password)",
    )
    parser.add_argument("--no-auth", action="store_true", help="accept calls without a UsernameToken")
    args = parser.parse_args(argv)

    username, password = (None, None) if args.no_auth else (args.username, args.password)
    # The password is never printed: it may be a real secret from the environment.
    serve_foreground(
        create_app(ErpState(), username=username, password=password),
        host=args.host,
        port=args.port,
        banner="demo ERP",
        path="/erp?wsdl",
        expected_errors=(ConnectionDropped,),
    )


if __name__ == "__main__":
    main()
