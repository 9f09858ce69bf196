"""Install a generated package into this venv, run mypy and its conformance test, remove it after."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def mypy_strict(package_dir: Path) -> subprocess.CompletedProcess[str]:
    """`mypy --strict` as the generated pyproject configures it, from inside the package directory."""
    # Retrofit is installed editable here, which mypy cannot follow: point it at the checkout.
    env = {**os.environ, "MYPYPATH": str(REPO)}
    return subprocess.run(
        [str(VENV_BIN / "mypy"), "--no-incremental"],
        cwd=package_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


@contextmanager
def installed(package_dir: Path, target: Path) -> Iterator[dict[str, str]]:
    """The package installed into its own `target` directory, never into the shared venv (other
    tests and xdist workers list connectors from it); yields the environment that sees it."""
    done = run(
        VENV_BIN / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        target,
        package_dir,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)])}
