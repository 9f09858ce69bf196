"""`retrofit web`: the business users' front door (retrofit/web)."""

from __future__ import annotations

import typer


def web(port: int = typer.Option(8235, help="port to serve on"), host: str = "127.0.0.1") -> None:
    """Serve the web front door (login, catalog, forms, my runs)."""
    import uvicorn

    from retrofit.settings import RetrofitSettings
    from retrofit.web.app import build_app

    uvicorn.run(build_app(RetrofitSettings()), host=host, port=port, log_level="warning")
