"""Proving generated WSDL packages the way an integrator would: generate, type-check, install,
list, run the conformance suite. Several packages share one mypy run and one install target, so
the proof of three FedEx services costs little more than one."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from connectors.scaffold.package import GeneratedPackage
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import connector_class_name, package_name, write_package
from connectors.scaffold.wsdl import read_wsdl
from tests.scaffold.support import VENV_BIN, installed, mypy_strict, run


@dataclass
class Generated:
    name: str
    package: GeneratedPackage
    out: Path
    seconds: float  # WSDL to files on disk

    @property
    def share(self) -> str:
        total = len(self.package.actions) + len(self.package.skipped)
        return f"{len(self.package.actions)}/{total}"


def generate(name: str, wsdl: Path, root: Path) -> Generated:
    began = time.perf_counter()
    package = read_wsdl(name, str(wsdl), Selection(None))
    out = root / f"{name}-connector"
    write_package(package, out)
    return Generated(name, package, out, time.perf_counter() - began)


def largest_file_lines(generated: Generated) -> int:
    return max(len(p.read_text().splitlines()) for p in generated.out.rglob("*.py"))


def prove(packages: list[Generated], root: Path) -> dict[str, float]:
    """Assert every package type-checks, installs, is listed and passes its conformance suite;
    returns the seconds each step took."""
    timings: dict[str, float] = {}
    for generated in packages:  # a syntax error or undefined name shows here, before mypy's wall of text
        linted = run(VENV_BIN / "ruff", "check", "--select", "E9,F63,F7,F82", generated.out)
        assert linted.returncode == 0, linted.stdout
    began = time.perf_counter()
    checked = mypy_strict(_mypy_project(packages, root))
    timings["mypy"] = time.perf_counter() - began
    assert checked.returncode == 0, checked.stdout[-4000:]
    target = root / "site"
    began = time.perf_counter()
    with ExitStack() as stack:
        env = [stack.enter_context(installed(p.out, target)) for p in packages][-1]
        timings["install"] = time.perf_counter() - began
        _listed_and_conformant(packages, env, timings)
    return timings


def _listed_and_conformant(packages: list[Generated], env: dict[str, str], timings: dict[str, float]) -> None:
    began = time.perf_counter()
    listed = run(VENV_BIN / "retrofit", "connectors", "list", env=env)
    timings["list"] = time.perf_counter() - began
    for generated in packages:
        entry = f"{generated.name} = {package_name(generated.name)}.connector:{connector_class_name(generated.name)}"
        assert entry in listed.stdout, listed.stdout[-2000:] + listed.stderr[-2000:]
    began = time.perf_counter()
    for generated in packages:
        conformance = run(
            VENV_BIN / "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=generated.out, env=env
        )
        assert conformance.returncode == 0, conformance.stdout[-3000:]
        assert " passed" in conformance.stdout
    timings["conformance"] = time.perf_counter() - began


def _mypy_project(packages: list[Generated], root: Path) -> Path:
    """One mypy project over all packages, configured as each generated pyproject is (strict, pydantic)."""
    if len(packages) == 1:
        return packages[0].out
    project = root / "mypy-all"
    project.mkdir(exist_ok=True)
    paths = ":".join(str(p.out) for p in packages)
    names = ", ".join(f'"{package_name(p.name)}"' for p in packages)
    (project / "pyproject.toml").write_text(
        f'[tool.mypy]\nstrict = true\nplugins = ["pydantic.mypy"]\nmypy_path = "{paths}"\npackages = [{names}]\n'
    )
    return project
