"""Serving an ASGI app with uvicorn on loopback: on a background thread, or in the foreground.

Generic on purpose: the identity + codec server, the scripted model server and the demo ledger, ERP
and CRM are thin wrappers around `ThreadedUvicorn` and `serve_foreground`. Nothing here
knows about any one system.
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import LOGGING_CONFIG


class _HideDeliberate(logging.Filter):
    """uvicorn logs every exception escaping the app; a fault a test asked for is not news."""

    def __init__(self, expected: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], self.expected))


def hide_expected_errors(*expected: type[BaseException]) -> None:
    """Keep `expected` exceptions out of uvicorn's error log (idempotent per set of types)."""
    if not expected:
        return
    logger = logging.getLogger("uvicorn.error")  # where uvicorn's HTTP protocols report app errors
    if not any(isinstance(f, _HideDeliberate) and f.expected == expected for f in logger.filters):
        logger.addFilter(_HideDeliberate(expected))


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one whose number is known before uvicorn runs."""
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say they
    # are TCP. Without it, uvicorn's separate header and body writes meet Nagle's algorithm and the
    # client's delayed ACK, and every response on loopback takes 40 ms instead of under one.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # quick restarts on a fixed port
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_config(app: ASGIApp, *, library: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        # As a library (tests), leave the process's logging to its host; uvicorn's default config
        # would rewire it. In the foreground, uvicorn's own logging is what an operator expects.
        log_config=None if library else LOGGING_CONFIG,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


class ThreadedUvicorn:
    """`app` served by uvicorn on a daemon thread; `start()` returns once `health_path` answers 200.

    `expected_errors` are exception types the app raises on purpose (injected faults); they are
    kept out of uvicorn's error log. `startup_seconds` is how long the last `start()` took.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        health_path: str,
        expected_errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.app = app
        self.name = name
        self.host = host
        self.health_path = health_path
        self.expected_errors = expected_errors
        self.startup_seconds: float | None = None
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.name} is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        return url_of(self.host, self.port)

    def start(self, timeout: float = 5.0) -> None:
        """Serve on a background thread; return once `health_path` answers 200."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running")
        began = time.perf_counter()
        hide_expected_errors(*self.expected_errors)
        self._socket = bind(self.host, self._requested_port)
        self._port = int(self._socket.getsockname()[1])
        self._server = uvicorn.Server(uvicorn_config(self.app, library=True))
        # A daemon thread, so a test run that forgets stop() still exits.
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"{self.name}:{self._port}",
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
        while not self._answers_health():
            if not self._thread.is_alive():
                raise RuntimeError(f"{self.name} exited during startup")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{self.name} did not answer {self.url}{self.health_path}")
            time.sleep(0.01)

    def _answers_health(self) -> bool:
        # The standard library's client: building an httpx client (and its SSL context) would cost
        # more than the whole server start.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=1.0)
        try:
            connection.request("GET", self.health_path)
            return connection.getresponse().status == 200
        except OSError:  # not accepting yet
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
            self._socket.close()  # uvicorn closes it on a clean shutdown; this covers the rest
        self._server = self._thread = self._socket = None
        self._port = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_foreground(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    banner: str,
    path: str = "",
    expected_errors: tuple[type[BaseException], ...] = (),
) -> None:
    """Serve until Ctrl-C; prints `<banner> listening on <url><path>` once the socket is bound."""
    hide_expected_errors(*expected_errors)
    sock = bind(host, port)
    print(f"{banner} listening on {url_of(host, int(sock.getsockname()[1]))}{path}", flush=True)
    # In the main thread uvicorn installs its own SIGINT/SIGTERM handlers and shuts down cleanly.
    uvicorn.Server(uvicorn_config(app, library=False)).run(sockets=[sock])
