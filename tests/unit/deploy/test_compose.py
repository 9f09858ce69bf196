"""The production-shaped stack's files, read as data: docker-compose.yml, the Dockerfile, .env.example,
.dockerignore and deploy/.

There is no Docker engine in CI, so these tests check what can be known without one: services,
pinned images, ports, volumes, health checks, start order, secrets only by interpolation, every
variable documented, every worker setting a real setting, and shell scripts that parse. When a
`docker compose` plugin is present, `docker compose config` validates the file as Compose does.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from retrofit.registry import load_connectors
from retrofit.settings import RetrofitSettings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

EXPECTED_SERVICES = {
    "postgresql",
    "temporal-schema",
    "temporal",
    "temporal-namespace",
    "temporal-admin-tools",
    "temporal-ui",
    "worker",
    "worker-erp",
    "ledger",
    "erp",
    "crm",
    "northwind-load",
}
# Services that run a task and exit; others wait for them with service_completed_successfully.
ONE_SHOT = {"temporal-schema", "temporal-namespace", "northwind-load"}
WORKERS = ("worker", "worker-erp")
# ${VAR}, ${VAR:-default}, ${VAR:?message} — but not $${VAR}, which Compose passes through.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CODEC_KEYS", re.IGNORECASE)
REQUIRED_SECRETS = {
    "POSTGRES_PASSWORD",
    "TEMPORAL_DB_PASSWORD",
    "AUDIT_DB_PASSWORD",
    "NORTHWIND_DB_PASSWORD",
    "LEDGER_API_KEY",
    "ERP_PASSWORD",
    "CRM_CLIENT_SECRET",
}


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())  # resolves the `<<: *anchor` merges
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def with_defaults(text: str) -> str:
    """`text` as Compose would interpolate it with no variables set (defaults filled in)."""
    return INTERPOLATION.sub(lambda m: m.group(3) or "" if m.group(2) == ":-" else m.group(0), text)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=value list form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def env_example() -> dict[str, str]:
    """Variables .env.example documents, set or commented out (`# NAME=default`)."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def depends_on(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(service.get("depends_on") or {})


# --- services and images -------------------------------------------------------------------------


def test_the_stack_has_every_service() -> None:
    assert set(services()) == EXPECTED_SERVICES


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in services().items():
        image = with_defaults(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image!r} has no tag"
        assert tag != "latest" and re.match(r"^\d+(\.\d+)+", tag), f"{name}: {image!r} is not a version"


def test_temporal_runs_on_postgresql_with_the_schema_set_up_first() -> None:
    every = services()
    images = {name: with_defaults(s["image"]) for name, s in every.items()}
    assert not any("auto-setup" in image for image in images.values())  # deprecated, see the file
    server, schema = images["temporal"], images["temporal-schema"]
    assert server.startswith("temporalio/server:") and schema.startswith("temporalio/admin-tools:")
    # The schema files ship with admin-tools: it must be the server's release.
    assert server.split(":")[1] == schema.split(":")[1] == images["temporal-namespace"].split(":")[1]
    assert images["temporal-ui"].startswith("temporalio/ui:")
    assert images["postgresql"].startswith("postgres:")

    env = environment(every["temporal"])
    assert env["DB"] == "postgres12" and env["POSTGRES_SEEDS"] == "postgresql"
    assert (env["DBNAME"], env["VISIBILITY_DBNAME"]) == ("temporal", "temporal_visibility")
    assert depends_on(every["temporal"]) == {
        "temporal-schema": {"condition": "service_completed_successfully"}
    }
    script = (ROOT / "deploy/temporal/setup-schema.sh").read_text()
    assert "temporal:temporal visibility:temporal_visibility" in script and "update-schema" in script


def test_retrofit_services_build_from_the_dockerfile() -> None:
    for name, service in services().items():
        if not service["image"].startswith("retrofit:"):
            continue
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
    assert (ROOT / services()["worker"]["build"]["dockerfile"]).is_file()
    assert services()["worker"]["command"] == ["retrofit", "worker"]
    assert services()["worker-erp"]["command"] == ["retrofit", "worker", "--connectors", "erp"]
    assert services()["worker"]["deploy"]["replicas"] >= 2  # horizontally scaled from the start


# --- ports and volumes ---------------------------------------------------------------------------


def test_published_ports_are_the_documented_ones_on_loopback_by_default() -> None:
    published: dict[str, list[str]] = {}
    for name, service in services().items():
        for port in service.get("ports", []):
            host, host_port, container_port = with_defaults(port).rsplit(":", 2)
            assert host == "127.0.0.1", f"{name}: {port} is not bound to loopback by default"
            assert host_port == container_port
            published.setdefault(name, []).append(container_port)
    assert published == {
        "temporal": ["7233"],
        "temporal-ui": ["8080"],
        "ledger": ["8701"],
        "erp": ["8702"],
        "crm": ["8703"],
    }  # PostgreSQL and the workers stay on the stack's network


def test_volumes_persist_the_database_and_mount_files_that_exist() -> None:
    declared = set(compose()["volumes"])
    assert "postgresql-data:/var/lib/postgresql/data" in services()["postgresql"]["volumes"]
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source, _target, *mode = with_defaults(volume).split(":")
            if source.startswith((".", "/")):
                assert (ROOT / source).exists() or source.startswith("../"), f"{name}: {source} missing"
                assert mode == ["ro"], f"{name}: bind mount {source} should be read-only"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
    dynamic = environment(services()["temporal"])["DYNAMIC_CONFIG_FILE_PATH"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in services()["temporal"]["volumes"]}
    config_dir = mounted["/etc/temporal/config/dynamicconfig"]
    config = ROOT / config_dir / Path(dynamic).name
    assert dynamic.startswith("config/dynamicconfig/") and config.is_file()
    assert isinstance(yaml.safe_load(config.read_text()), dict)
    initdb = dict(v.split(":")[:2] for v in services()["postgresql"]["volumes"] if v.startswith("./"))
    assert initdb["./deploy/postgres/init"] == "/docker-entrypoint-initdb.d"


# --- health and start order ----------------------------------------------------------------------


def dockerfile_healthcheck() -> str | None:
    match = re.search(r"^HEALTHCHECK\b.*?CMD\s+(.+?)$", DOCKERFILE.read_text(), re.MULTILINE | re.DOTALL)
    return match.group(1) if match else None


def test_every_long_running_service_has_a_health_check() -> None:
    for name, service in services().items():
        check = service.get("healthcheck")
        if name in ONE_SHOT:
            assert not check or check.get("disable"), f"{name} exits when done; completion is its signal"
            continue
        if check is None:
            assert "build" in service, f"{name} has no health check"
            assert dockerfile_healthcheck() is not None, f"{name} relies on the Dockerfile's HEALTHCHECK"
            continue
        assert not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries"} <= set(check), name


def test_depends_on_waits_for_health_or_completion() -> None:
    every = services()
    for name, service in every.items():
        for dependency, spec in depends_on(service).items():
            assert dependency in every, f"{name} depends on unknown {dependency}"
            condition = spec["condition"]
            if dependency in ONE_SHOT:
                assert condition == "service_completed_successfully", f"{name} -> {dependency}"
            else:
                assert condition == "service_healthy", f"{name} -> {dependency}"
    for worker in WORKERS:
        needs = depends_on(every[worker])
        assert {"temporal-namespace", "postgresql", "northwind-load", "ledger", "erp", "crm"} <= set(needs)
    for one_shot in ONE_SHOT:
        assert str(every[one_shot]["restart"]).startswith("on-failure"), one_shot  # never restarts on success
    waited_for = {dep for s in every.values() for dep in depends_on(s)}
    assert waited_for >= ONE_SHOT


# --- settings and secrets ------------------------------------------------------------------------


def test_no_secret_is_written_into_the_compose_file() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                match = INTERPOLATION.fullmatch(value)
                assert match, f"{name}: {key} must come from a ${{VAR}}, not a literal"
                assert match.group(2) == ":?", f"{name}: {key} must be required (${{VAR:?...}}), no default"
            for url in re.findall(r"\w+://[^\s]+", value):
                userinfo = url.split("://", 1)[1].split("@", 1)
                if len(userinfo) == 2 and ":" in userinfo[0]:
                    password = userinfo[0].split(":", 1)[1]
                    assert INTERPOLATION.fullmatch(password), f"{name}: {key} has a literal password"
    text = COMPOSE.read_text()
    for demo_default in ("demo-ledger-key", "demo-erp-password", "demo-crm-secret"):
        assert demo_default not in text


def test_every_variable_is_documented_in_env_example() -> None:
    # Values only: Compose does not interpolate comments (which mention `${VAR:?...}`).
    used = {m.group(1) for text in strings(compose()) for m in INTERPOLATION.finditer(text)}
    documented = env_example()
    assert used - set(documented) == set(), "document these in .env.example"
    assert used >= REQUIRED_SECRETS


def test_env_example_commits_no_secret_and_env_is_ignored() -> None:
    documented = env_example()
    for name in REQUIRED_SECRETS:
        assert documented[name] == "", f".env.example must leave {name} empty"
    for line in ENV_EXAMPLE.read_text().splitlines():
        if SECRET_NAME.search(line.split("=")[0]) and not line.startswith("#"):
            assert line.endswith("="), line
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv/", ".retrofit/", "tests/"} <= set(ignored)


def _known_settings() -> set[str]:
    known = {f"RETROFIT_{field.upper()}" for field in RetrofitSettings.model_fields}
    for loaded in load_connectors():
        prefix = f"RETROFIT_{loaded.spec.name.upper()}_"
        known |= {prefix + field.upper() for field in loaded.cls.Settings.model_fields}
    return known


def test_workers_set_only_real_settings_and_point_every_connector_somewhere() -> None:
    known = _known_settings()
    for worker in WORKERS:
        env = environment(services()[worker])
        unknown = {key for key in env if key.startswith("RETROFIT_")} - known
        assert not unknown, f"{worker} sets variables no settings model reads: {sorted(unknown)}"
        assert env["RETROFIT_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert with_defaults(env["RETROFIT_AUDIT_DB_URL"]).startswith("postgresql://retrofit_audit:")
        assert env["RETROFIT_AUDIT_DB_URL"].endswith("@postgresql:5432/retrofit_audit")
        for connector in ("LEDGER_BASE_URL", "ERP_WSDL", "CRM_BASE_URL", "NORTHWIND_URL"):
            assert f"RETROFIT_{connector}" in env, connector
    assert environment(services()["worker"]) == environment(services()["worker-erp"])  # one routing table


# --- Dockerfile and scripts ----------------------------------------------------------------------


def test_dockerfile_is_pinned_unprivileged_and_health_checked() -> None:
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert bases, "no FROM"
    for base in bases:
        image, _, tag = base.partition(":")
        assert image == "python" and re.match(r"^3\.11\.\d+-slim", tag), base  # a patch release, by tag
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0", "0:0"), "the image must end as a non-root user"
    check = dockerfile_healthcheck()
    assert check is not None and "retrofit.healthcheck" in check
    assert 'pip install ".[postgres]"' in text


@pytest.mark.parametrize(
    "script",
    [
        "deploy/postgres/init/10-retrofit-databases.sh",
        "deploy/temporal/setup-schema.sh",
        "deploy/temporal/create-namespace.sh",
        ".ci/postgres",
    ],
)
def test_shell_scripts_parse(script: str) -> None:
    path = ROOT / script
    shell = "bash" if path.read_text().startswith("#!/usr/bin/env bash") else "sh"
    result = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- Compose itself, where it is installed ------------------------------------------------------


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    return probe.returncode == 0


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    if not _compose_available():
        pytest.skip(
            "`docker compose version` fails here (no Compose plugin): the file is checked as YAML only"
        )
    env = {**os.environ, **{name: secrets.token_hex(16) for name in REQUIRED_SECRETS}}
    result = subprocess.run(
        ["docker", "compose", "--file", str(COMPOSE), "--project-directory", str(ROOT), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # no .env from the working directory
    )
    assert result.returncode == 0, result.stderr

    missing = {k: v for k, v in env.items() if k != "AUDIT_DB_PASSWORD"}
    refused = subprocess.run(
        ["docker", "compose", "--file", str(COMPOSE), "--project-directory", str(ROOT), "config", "-q"],
        capture_output=True,
        text=True,
        env=missing,
        cwd=tmp_path,
    )
    assert refused.returncode != 0 and "AUDIT_DB_PASSWORD" in refused.stderr
