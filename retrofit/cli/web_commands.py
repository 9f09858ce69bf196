"""`retrofit web`: the business users' front door (retrofit/web); `serve_web` runs it beside
`retrofit dev`'s embedded stack in the same event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator
from typing import Any

import typer

from retrofit.settings import RetrofitSettings

DEFAULT_WEB_PORT = 8235


def web(port: int = typer.Option(DEFAULT_WEB_PORT, help="port to serve on"), host: str = "127.0.0.1") -> None:
    """Serve the web front door (login, catalog, forms, my runs)."""
    import uvicorn

    from retrofit.web.app import build_app

    uvicorn.run(build_app(RetrofitSettings()), host=host, port=port, log_level="warning")


@contextlib.asynccontextmanager
async def serve_web(
    settings: RetrofitSettings, client: Any, *, port: int = DEFAULT_WEB_PORT, host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """The web front door on `host:port` (0: a free port) until the block ends; yields its URL."""
    import uvicorn

    from retrofit.web.app import build_app

    class _Server(uvicorn.Server):
        # The host process (retrofit dev) owns SIGINT/SIGTERM; uvicorn must not take them over.
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    from retrofit.embedded.dev_server import DevServerError, port_is_free

    if port and not port_is_free(host, port):
        raise DevServerError(
            f"port {port} (the web front door) is in use: another `retrofit dev` or `retrofit web` "
            "may be running; stop it or choose --web-port (0: none)"
        )
    config = uvicorn.Config(build_app(settings, client=client), host=host, port=port, log_level="warning")
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            # Port in use and the like: uvicorn logs why and exits; say it here too.
            raise RuntimeError(f"the web front door could not listen on {host}:{port}")
        await asyncio.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1] if port == 0 else port
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await task
