"""`retrofit codec-server` — the identity service and the codec for the Temporal Web UI and CLI (ops)."""

from __future__ import annotations

import typer

from retrofit.cli.output import console, fail
from retrofit.codec.converter import codec_from_settings
from retrofit.codec.keys import CodecConfigError
from retrofit.codec.server import codec_app
from retrofit.http_serving import serve_foreground
from retrofit.identity.directory import DirectoryError
from retrofit.identity.keys import IdentityKeyError
from retrofit.identity.service import IdentityService
from retrofit.settings import RetrofitSettings


def codec_server(
    port: int = typer.Option(8234, "--port", help="Port to listen on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
) -> None:
    """Serve the identity service (login, signed answers) and Temporal's codec protocol (with
    RETROFIT_CODEC_KEYS; without, payloads pass through) — the Web UI's "codec server" setting
    (or `temporal server start-dev --ui-codec-endpoint URL`)."""
    settings = RetrofitSettings()
    try:
        codec = codec_from_settings(settings)
        origins = ui_origins(settings)
        identity = IdentityService.from_settings(settings, ui_origins=origins)
    except (CodecConfigError, IdentityKeyError, DirectoryError, ValueError) as exc:
        fail(str(exc))
        return
    if not identity.directory.users() and identity.oidc is None:
        console.print(
            f"[yellow]nobody can log in yet[/]: {identity.directory.path} holds no users and OIDC is not "
            "configured (`retrofit identity add-user NAME`, or RETROFIT_IDENTITY_OIDC_*)"
        )
    token = settings.codec_server_token.get_secret_value() if settings.codec_server_token else None
    codec_label = f"codec key {codec.active_key_id}" if codec is not None else "no codec keys: plaintext"
    serve_foreground(
        codec_app(codec, cors_origins=origins, token=token, identity=identity),
        host=host,
        port=port,
        banner=(
            f"retrofit identity + codec server ({codec_label}; identity key {identity.kid}; "
            f"CORS {', '.join(origins) or 'none'}); log in at {settings.identity_url.rstrip('/')}/login"
        ),
    )


def ui_origins(settings: RetrofitSettings) -> list[str]:
    """The browser origins (the Temporal UI's) allowed to call with credentials."""
    return [o.strip().rstrip("/") for o in settings.codec_cors_origins.split(",") if o.strip()]
