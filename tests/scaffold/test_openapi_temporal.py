"""The OpenAPI reader on a description that ships in a PyPI package and a real server that
implements it: Temporal's HTTP API (`openapiv3.yaml` inside the `temporalio` wheel, MIT), 228
operations, against the Temporal dev server's own HTTP port on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import temporalio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.scaffold.openapi_proof import Generated, generated, run_through_gate
from tests.scaffold.support import VENV_BIN, mypy_strict, run

SPEC = Path(temporalio.__file__).parent.joinpath(
    "bridge", "sdk-core", "crates", "protos", "protos", "api_upstream", "openapi", "openapiv3.yaml"
)
pytestmark = [
    pytest.mark.skipif(not SPEC.exists(), reason=f"this temporalio build ships no {SPEC.name}"),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def temporal_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    with generated("temporal_http", SPEC, tmp_path_factory.mktemp("temporal")) as package:
        yield package


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def dev_server_with_http() -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    port = _free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        dev_server_log_level="error",
        dev_server_extra_args=["--http-port", str(port)],
    )
    try:
        yield env, port
    finally:
        await env.shutdown()


def test_every_operation_is_generated_and_type_checks(temporal_api: Generated) -> None:
    package = temporal_api.package
    assert (len(package.actions), package.skipped) == (228, [])
    assert "The description declares no security scheme" in " ".join(package.review)
    checked = mypy_strict(temporal_api.out)
    assert checked.returncode == 0, checked.stdout[-3000:]


def test_installs_is_listed_and_passes_its_conformance_suite(temporal_api: Generated) -> None:
    listed = run(VENV_BIN / "retrofit", "connectors", "list", env=temporal_api.env)
    assert "temporal_http.describe_namespace" in listed.stdout, listed.stderr
    conformance = run(
        VENV_BIN / "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests",
        cwd=temporal_api.out,
        env=temporal_api.env,
    )
    assert conformance.returncode == 0, conformance.stdout[-3000:]


async def test_describe_namespace_against_the_real_temporal_http_api(
    temporal_api: Generated, dev_server_with_http: tuple[WorkflowEnvironment, int], audit_url: str
) -> None:
    env, port = dev_server_with_http
    cls = temporal_api.connector_class()
    settings = cls.load_settings(base_url=f"http://127.0.0.1:{port}")
    result, _ = await run_through_gate(
        env, cls, settings, audit_url, "temporal_http.describe_namespace", {"namespace": "default"}
    )
    info = result["output"]["namespace_info"]
    assert info["name_"] == "default" and info["state"] == "NAMESPACE_STATE_REGISTERED"
