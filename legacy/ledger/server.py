"""Run the demo ledger: on a background thread for tests, or in the foreground for the demo.

In tests (127.0.0.1, a free port unless one is given):

    with LedgerServer() as server:
        httpx.get(f"{server.url}/customers/C-1001", headers={"X-Api-Key": server.api_key})

In the foreground: `python -m legacy.ledger.server --port 8701` (Ctrl-C stops it).
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

from legacy.ledger.app import DEFAULT_API_KEY, ConnectionDropped, create_app
from legacy.ledger.store import LedgerState

_API_KEY_ENV = "LEDGER_API_KEY"


class _HideDeliberateDrops(logging.Filter):
    """uvicorn logs every exception that escapes the app; a drop the fault plan asked for is none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_DROP_FILTER = _HideDeliberateDrops()


def _quiet_uvicorn() -> None:
    logger = logging.getLogger("uvicorn.error")  # the logger uvicorn's HTTP protocols report to
    if _DROP_FILTER not in logger.filters:
        logger.addFilter(_DROP_FILTER)


def _bind(host: str, port: int) -> socket.socket:
    # Binding here rather than in uvicorn lets port 0 pick a free port whose number we know
    # before the server thread runs, so `url` is valid as soon as `start()` returns.
    # IPPROTO_TCP explicitly: with protocol 0 asyncio does not recognise the socket as TCP and
    # never sets TCP_NODELAY, which costs ~40 ms per request on loopback (Nagle + delayed ACK).
    sock = socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # quick restarts on a fixed port
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class LedgerServer:
    """The demo ledger served by uvicorn on a background thread.

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
        self.host = host
        self.api_key = api_key
        self.state = state if state is not None else LedgerState()
        self.startup_seconds: float | None = None
        self._requested_port = port
        self._bound_port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("LedgerServer is not running; call start() first")
        return self._bound_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 5.0) -> None:
        """Serve on a background thread; return once `/_admin/health` answers."""
        if self._thread is not None:
            raise RuntimeError("LedgerServer is already running")
        began = time.perf_counter()
        _quiet_uvicorn()
        self._socket = _bind(self.host, self._requested_port)
        self._bound_port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            create_app(self.state, api_key=self.api_key),
            log_level="warning",
            access_log=False,
            # uvicorn's default log config rewires the process's logging; a library used from
            # tests must leave that to its host.
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        # A daemon thread, so a test run that forgets stop() still exits.
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"ledger-server:{self.port}",
            daemon=True,
        )
        self._thread.start()
        try:
            self._wait_healthy(deadline=began + timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - began

    def _wait_healthy(self, *, deadline: float) -> None:
        assert self._thread is not None
        while True:
            if not self._thread.is_alive():
                raise RuntimeError("the ledger server thread exited during startup")
            if self._answers_health():
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the ledger server did not answer {self.url}/_admin/health")
            time.sleep(0.01)

    def _answers_health(self) -> bool:
        # The standard library's client on purpose: an httpx client builds an SSL context on
        # creation, which costs more than the whole server start.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=1.0)
        try:
            connection.request("GET", "/_admin/health")
            return connection.getresponse().status == 200
        except OSError:  # not accepting yet (refused, reset, timed out)
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
            self._socket.close()  # uvicorn closes it on a clean shutdown; this covers the others
        self._server = None
        self._thread = None
        self._socket = None
        self._bound_port = None

    def __enter__(self) -> LedgerServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


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

    _quiet_uvicorn()
    sock = _bind(args.host, args.port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    # The key is deliberately not printed: it may be a real secret passed through the environment.
    print(f"demo ledger listening on http://{host}:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        create_app(LedgerState(), api_key=args.api_key),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    # In the main thread uvicorn installs its own SIGINT/SIGTERM handlers and shuts down cleanly.
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
