"""`retrofit codec-server` — decrypt payloads for the Temporal Web UI and CLI (ops)."""

from __future__ import annotations

import typer

from legacy.serving import serve_foreground
from retrofit.cli.output import fail
from retrofit.codec.converter import codec_from_settings
from retrofit.codec.keys import CodecConfigError
from retrofit.codec.server import codec_app
from retrofit.settings import RetrofitSettings


def codec_server(
    port: int = typer.Option(8234, "--port", help="Port to listen on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
) -> None:
    """Serve Temporal's codec protocol with RETROFIT_CODEC_KEYS, for the Web UI's "codec server"
    setting (or `temporal server start-dev --ui-codec-endpoint URL`)."""
    settings = RetrofitSettings()
    try:
        codec = codec_from_settings(settings)
    except CodecConfigError as exc:
        fail(str(exc))
        return
    if codec is None:
        fail("no codec keys configured (RETROFIT_CODEC_KEYS): payloads are plaintext, nothing to decode")
        return
    origins = [o.strip() for o in settings.codec_cors_origins.split(",") if o.strip()]
    token = settings.codec_server_token.get_secret_value() if settings.codec_server_token else None
    serve_foreground(
        codec_app(codec, cors_origins=origins, token=token),
        host=host,
        port=port,
        banner=f"retrofit codec server (active key {codec.active_key_id}, CORS {', '.join(origins) or 'none'})",
    )
