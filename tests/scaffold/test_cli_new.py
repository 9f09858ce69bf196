"""`retrofit connectors new`: what an integrator sees. A package written with a report of what to
review and what to do next; every mistake is one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from retrofit.cli.app import app as cli
from tests.scaffold.support import VENV_BIN, run

DIALOGPORTEN = Path(__file__).with_name("data") / "dialogporten" / "swagger.verified.json"
pytestmark = pytest.mark.timeout(120)

UPLOADS = {
    "openapi": "3.0.3",
    "info": {"title": "Files", "version": "2"},
    "servers": [{"url": "/relative"}],
    "paths": {
        "/files": {
            "get": {"operationId": "listFiles", "responses": {"200": {"description": "ok"}}},
            "post": {
                "operationId": "uploadFile",
                "requestBody": {"required": True, "content": {"application/octet-stream": {}}},
                "responses": {"201": {"description": "made"}},
            },
        }
    },
}


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def new(*args: str | Path, cwd: Path) -> Done:
    """The command in this process (the CLI's imports take seconds per process); one test runs
    the real `retrofit` executable."""
    os.chdir(cwd)
    result = CliRunner().invoke(cli, ["connectors", "new", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback the user would have seen
    return Done(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(autouse=True)
def _keep_cwd() -> Iterator[None]:
    before = os.getcwd()
    yield
    os.chdir(before)


def assert_one_line_error(done: Done | subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    text = " ".join(done.stderr.split())  # rich may wrap a long line on a narrow terminal
    assert text.startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in text, done.stderr


def test_the_real_executable_writes_a_package_and_fails_cleanly(tmp_path: Path) -> None:
    done = run(VENV_BIN / "retrofit", "connectors", "new", "dp", "--from-openapi", DIALOGPORTEN, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dp-connector" / "pyproject.toml").exists()
    again = run(
        VENV_BIN / "retrofit", "connectors", "new", "dp", "--from-openapi", DIALOGPORTEN, cwd=tmp_path
    )
    assert_one_line_error(again, "dp-connector is not empty; pass --force to overwrite it")


def test_writes_the_package_and_says_what_to_review_and_do_next(tmp_path: Path) -> None:
    done = new("dialogporten", "--from-openapi", DIALOGPORTEN, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "dialogporten-connector"  # the default --out
    assert (out / "pyproject.toml").exists() and (out / "dialogporten_connector" / "connector.py").exists()
    text = done.stdout
    assert "wrote dialogporten-connector: " in text
    assert "29 actions (21 READ, 7 WRITE, 1 DESTRUCTIVE) in 3 group(s), 0 skipped of 29" in text
    assert "Effects to review" in text and "HTTP DELETE ×1" in text and "READ skips approval" in text
    assert "pip install -e dialogporten-connector" in text
    assert "retrofit connectors list" in text and "RETROFIT_DIALOGPORTEN_" in text
    assert "pytest dialogporten-connector/tests" in text


def test_reports_skipped_operations_and_globs_that_matched_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "files.yaml"
    spec.write_text(yaml.safe_dump(UPLOADS), encoding="utf-8")
    done = new(
        "files",
        "--from-openapi",
        spec,
        "--out",
        tmp_path / "pkg",
        "--operations",
        "*File*,nosuch*",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "1 actions (1 READ, 0 WRITE, 0 DESTRUCTIVE)" in text and "1 skipped of 2" in text
    assert "Skipped (1; write these by hand if you need them)" in text
    assert "application/octet-stream (binary or multipart)" in text and "POST /files" in text
    assert "Selection globs that matched nothing" in text and "'nosuch*'" in text
    assert "names no absolute server URL" in text  # base_url is left for the integrator


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    assert new("dp", "--from-openapi", DIALOGPORTEN, "--out", out, cwd=tmp_path).returncode == 0
    (out / "README.md").write_text("reviewed by hand\n", encoding="utf-8")
    assert_one_line_error(
        new("dp", "--from-openapi", DIALOGPORTEN, "--out", out, cwd=tmp_path), "not empty", "--force"
    )
    assert (out / "README.md").read_text() == "reviewed by hand\n"
    again = new("dp", "--from-openapi", DIALOGPORTEN, "--out", out, "--force", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "reviewed by hand" not in (out / "README.md").read_text()


@pytest.mark.parametrize("name", ["Xero", "1xero", "xero-api", "xero__api", "xero_", "x" * 41, "", "xé"])
def test_a_bad_name_is_one_line(tmp_path: Path, name: str) -> None:
    assert_one_line_error(
        new(name, "--from-openapi", DIALOGPORTEN, cwd=tmp_path), "must be lower-case letters"
    )
    assert list(tmp_path.iterdir()) == []


def test_exactly_one_source(tmp_path: Path) -> None:
    assert_one_line_error(new("x", cwd=tmp_path), "give exactly one source")
    assert_one_line_error(
        new("x", "--from-openapi", DIALOGPORTEN, "--from-db", "sqlite:///x.db", cwd=tmp_path),
        "give exactly one source",
        "--from-openapi and --from-db",
    )
    assert_one_line_error(
        new("x", "--from-openapi", DIALOGPORTEN, "--tables", "a*", cwd=tmp_path),
        "--tables and --writes apply to --from-db",
    )


def test_unreadable_descriptions_are_one_line(tmp_path: Path) -> None:
    assert_one_line_error(
        new("x", "--from-openapi", tmp_path / "missing.yaml", cwd=tmp_path), "no such OpenAPI file"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.0\npaths: {a: [\n", encoding="utf-8")
    assert_one_line_error(new("x", "--from-openapi", broken, cwd=tmp_path), "broken.yaml is not valid YAML")
    swagger = tmp_path / "swagger.json"
    swagger.write_text('{"swagger": "2.0", "paths": {}}', encoding="utf-8")
    assert_one_line_error(new("x", "--from-openapi", swagger, cwd=tmp_path), "Swagger 2.0")
    # A markup-looking message is printed as text, not read as rich markup.
    odd = tmp_path / "[bold]odd.yaml"
    odd.write_text("- 1\n", encoding="utf-8")
    assert_one_line_error(
        new("x", "--from-openapi", odd, cwd=tmp_path), "[bold]odd.yaml is not an OpenAPI document"
    )


def test_refuses_a_name_already_installed_and_an_out_that_is_a_file(tmp_path: Path) -> None:
    # `ledger` is a built-in connector: a second plugin with its name would break every worker.
    assert_one_line_error(
        new("ledger", "--from-openapi", DIALOGPORTEN, "--out", tmp_path / "pkg", cwd=tmp_path),
        "a connector named 'ledger' is already installed (ledger = connectors.ledger.connector:LedgerConnector)",
    )
    assert not (tmp_path / "pkg").exists()
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert_one_line_error(
        new("x", "--from-openapi", DIALOGPORTEN, "--out", tmp_path / "file", cwd=tmp_path), "is a file"
    )
