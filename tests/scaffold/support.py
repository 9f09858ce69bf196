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


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
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
def installed(package_dir: Path, dist: str) -> Iterator[None]:
    """`pip install -e` offline (no build isolation: setuptools comes from this venv)."""
    done = run(
        VENV_BIN / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-e",
        package_dir,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield
    finally:
        run(VENV_BIN / "python", "-m", "pip", "uninstall", "--quiet", "--yes", dist)
