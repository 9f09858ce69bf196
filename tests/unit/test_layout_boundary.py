"""The framework does not depend on the demo: `retrofit/` and the connector bases never import
`legacy/` (the demo systems) or the demo connectors, and every framework module imports in an
install that has no `legacy` package at all."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_CONNECTORS = ("connectors.crm", "connectors.erp", "connectors.ledger", "connectors.northwind")
FRAMEWORK = [REPO / "retrofit", *(REPO / "connectors" / base for base in ("rest", "soap", "sql", "scaffold"))]


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _is_demo(module: str) -> bool:
    return module == "legacy" or module.startswith("legacy.") or module.startswith(DEMO_CONNECTORS)


def test_no_framework_module_imports_the_demo() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for root in FRAMEWORK
        for path in sorted(root.rglob("*.py"))
        for line, module in _imported_modules(path)
        if _is_demo(module)
    ]
    assert not offenders, "the framework imports the demo:\n" + "\n".join(offenders)


def test_the_boundary_check_sees_a_demo_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\nfrom legacy.erp.server import ErpServer\nimport connectors.crm.models\n")
    assert [m for _, m in _imported_modules(sample) if _is_demo(m)] == [
        "legacy.erp.server",
        "connectors.crm.models",
    ]


def test_every_framework_module_imports_without_the_demo_installed() -> None:
    # A meta-path finder that refuses `legacy` stands in for an install without the demo package.
    script = textwrap.dedent(
        """
        import importlib, importlib.abc, pkgutil, sys

        class NoDemo(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "legacy" or name.startswith("legacy."):
                    raise ModuleNotFoundError(f"No module named {name!r} (no demo installed)")
                return None

        sys.meta_path.insert(0, NoDemo())
        import retrofit, connectors.rest, connectors.soap, connectors.sql
        failed = []
        for package in (retrofit, connectors.rest, connectors.soap, connectors.sql):
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                if info.name.startswith("retrofit.audit.migrations."):
                    continue  # alembic's scripts, run by alembic with its context set up
                try:
                    importlib.import_module(info.name)
                except Exception as exc:
                    failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
