"""Settings every SOAP connector shares; a connector's own settings subclass this."""

from __future__ import annotations

from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr

from retrofit.sdk import ConnectorSettings


class SoapSettings(ConnectorSettings):
    """Where the WSDL is, how to reach the service and how to sign in.

    With a connector named `acme` these come from `RETROFIT_ACME_WSDL`, `RETROFIT_ACME_ENDPOINT`,
    `RETROFIT_ACME_USERNAME`, `RETROFIT_ACME_PASSWORD`, ...
    """

    wsdl: str = Field(description="URL or file path of the WSDL")
    endpoint: AnyHttpUrl | None = Field(
        default=None, description="overrides the WSDL's soap:address (e.g. a sandbox or a proxy)"
    )
    service_name: str | None = Field(default=None, description="WSDL service to bind; default: the first")
    port_name: str | None = Field(default=None, description="port of that service; default: the first")

    timeout_seconds: float = Field(default=30.0, gt=0, description="per operation, read/write/pool")
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    verify_tls: bool = True

    wsdl_timeout_seconds: float = Field(default=30.0, gt=0, description="fetching the WSDL over HTTP")
    wsdl_cache_dir: Path | None = Field(
        default=None, description="persistent cache of parsed WSDLs for fast cold starts; off when unset"
    )
    schema_locations: dict[str, Path] = Field(
        default_factory=dict, description="extra offline schemas: import URL -> local file"
    )
    strict: bool = Field(default=True, description="zeep's strict XML parsing")
    xml_huge_tree: bool = Field(default=False, description="allow very large/deep WSDLs (lxml huge_tree)")

    # WS-Security UsernameToken, sent with every call when a username is set.
    username: str | None = None
    password: SecretStr | None = None
    password_digest: bool = Field(default=False, description="PasswordDigest instead of PasswordText")

    capture_limit: int = Field(default=2000, ge=200, description="characters kept per captured envelope")
