"""The identity + codec server of the embedded stack, on a background thread.

`retrofit dev` and `retrofit demo` always run it (default http://localhost:8234), and point the
dev server's Web UI at it (`--ui-codec-endpoint`), so people log in there and the UI's Signal and
Update forms answer as them. With `--demo` (and in tests) it reads the shipped demo directory.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from retrofit.codec.converter import codec_from_settings
from retrofit.codec.server import codec_app
from retrofit.http_serving import ThreadedUvicorn
from retrofit.identity.service import IdentityService
from retrofit.settings import RetrofitSettings

#: alice, bob (finance), carol, dave (controllers), erin (ops); passwords "demo-<name>". Demo only.
DEMO_DIRECTORY = Path(__file__).resolve().parent / "identity" / "demo-users.toml"
DEMO_USERS = {
    "alice": ("finance",),
    "bob": ("finance",),
    "carol": ("controllers",),
    "dave": ("controllers",),
    "erin": ("ops",),
}
DEFAULT_PORT = 8234


def demo_password(user: str) -> str:
    """The documented, demo-only password of a demo user."""
    return f"demo-{user}"


class IdentityServer:
    """`IdentityService` + codec served by uvicorn; `settings.identity_url` says where."""

    def __init__(
        self,
        settings: RetrofitSettings,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        signing_key: tuple[str, Ed25519PrivateKey] | None = None,
    ) -> None:
        origins = [o.strip().rstrip("/") for o in settings.codec_cors_origins.split(",") if o.strip()]
        self.service = IdentityService.from_settings(settings, ui_origins=origins, signing_key=signing_key)
        token = settings.codec_server_token.get_secret_value() if settings.codec_server_token else None
        app = codec_app(
            codec_from_settings(settings), cors_origins=origins, token=token, identity=self.service
        )
        self._server = ThreadedUvicorn(app, name="identity", host=host, port=port, health_path="/health")

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def local_url(self) -> str:
        """Where this process reaches it (the bound address)."""
        return self._server.url

    def start(self) -> None:
        self._server.start(timeout=10)

    def stop(self) -> None:
        self._server.stop()
