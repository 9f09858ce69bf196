"""Run the demo ledger: on a background thread for tests, or in the foreground for the demo.

In tests (127.0.0.1, a free port unless one is given):

    with LedgerServer() as server:
        httpx.get(f"{server.url}/customers/C-1001", headers={"X-Api-Key": server.api_key})

In the foreground: `python -m legacy.ledger.server --port 8701` (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from legacy.faults import ConnectionDropped
from legacy.ledger.app import DEFAULT_API_KEY, create_app
from legacy.ledger.store import LedgerState
from retrofit.http_serving import ThreadedUvicorn, serve_foreground

_API_KEY_ENV = "LEDGER_API_KEY"


class LedgerServer(ThreadedUvicorn):
    """The demo ledger served by uvicorn on a background thread (`start()`/`stop()`, or `with`).

    `state` is live: tests may read it (it is thread-safe) or reset it between tests.
    `startup_seconds` records how long the last `start()` took until the server answered.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        state: LedgerState | None = None,
    ) -> None:
        self.api_key = api_key
        self.state = state if state is not None else LedgerState()
        super().__init__(
            create_app(self.state, api_key=api_key),
            name="ledger-server",
            host=host,
            port=port,
            health_path="/_admin/health",
            expected_errors=(ConnectionDropped,),
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m legacy.ledger.server", description="Run the demo ledger in the foreground."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument(
        "--api-key",
        default=os.environ.get(_API_KEY_ENV, DEFAULT_API_KEY),
        help=f"the key clients send in X-Api-Key (default: ${_API_KEY_ENV} or the demo key)",
    )
    args = parser.parse_args(argv)

    # The key is deliberately not printed: it may be a real secret passed through the environment.
    serve_foreground(
        create_app(LedgerState(), api_key=args.api_key),
        host=args.host,
        port=args.port,
        banner="demo ledger",
        expected_errors=(ConnectionDropped,),
    )


if __name__ == "__main__":
    main()
