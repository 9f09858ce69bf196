"""Run the demo ERP: on a background thread for tests, or in the foreground for the demo.

In tests (127.0.0.1, a free port unless one is given):

    with ErpServer() as erp:
        erp.wsdl_url            # http://127.0.0.1:<port>/erp?wsdl

In the foreground: `python -m legacy.erp.server --port 8702` (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import uvicorn

from legacy.erp.app import DEFAULT_PASSWORD, DEFAULT_USERNAME, ConnectionDropped, create_app
from legacy.erp.store import ErpState

_USERNAME_ENV = "ERP_USERNAME"
_PASSWORD_ENV = "ERP_PASSWORD"


class _HideDeliberateDrops(logging.Filter):
    """uvicorn logs every exception that escapes the app; a drop the fault plan asked for is none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_DROPS = _HideDeliberateDrops()


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _DROPS not in logger.filters:
        logger.addFilter(_DROPS)


def _listen(host: str, port: int) -> socket.socket:
    # Bound here, not by uvicorn: with port 0 the chosen port is known before the thread runs.
    # IPPROTO_TCP explicitly, so asyncio sets TCP_NODELAY (see legacy/ledger/server.py).
    sock = socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _config(state: ErpState, username: str | None, password: str | None) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(state, username=username, password=password),
        log_level="warning",
        access_log=False,
        log_config=None,  # leave the host process's logging alone
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


class ErpServer:
    """The demo ERP served by uvicorn on a daemon thread.

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
        self.host = host
        self.username = username
        self.password = password
        self.state = state if state is not None else ErpState()
        self.startup_seconds: float | None = None
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("ErpServer is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def wsdl_url(self) -> str:
        return f"{self.url}/erp?wsdl"

    def start(self, timeout: float = 5.0) -> None:
        """Serve on a background thread; return once `/_admin/health` answers."""
        if self._thread is not None:
            raise RuntimeError("ErpServer is already running")
        began = time.perf_counter()
        _install_log_filter()
        self._socket = _listen(self.host, self._requested_port)
        self._port = int(self._socket.getsockname()[1])
        self._server = uvicorn.Server(_config(self.state, self.username, self.password))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="demo-erp", daemon=True
        )
        self._thread.start()
        deadline = began + timeout
        while not self._healthy():
            if not self._thread.is_alive() or time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"the demo ERP did not start within {timeout} s")
            time.sleep(0.01)
        self.startup_seconds = time.perf_counter() - began

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=1)
        try:
            connection.request("GET", "/_admin/health")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self._port = None

    def __enter__(self) -> ErpServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


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

    _install_log_filter()
    sock = _listen(args.host, args.port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    # The password is never printed: it may be a real secret from the environment.
    print(f"demo ERP listening on http://{host}:{sock.getsockname()[1]}/erp?wsdl", flush=True)
    username, password = (None, None) if args.no_auth else (args.username, args.password)
    # In the main thread uvicorn installs its own SIGINT/SIGTERM handlers and shuts down cleanly.
    uvicorn.Server(_config(ErpState(), username, password)).run(sockets=[sock])


if __name__ == "__main__":
    main()
