"""`SqlDemoDatabase`: a working copy of the Northwind seed that tests and the demo may change.

The seed lives outside the repository, in the shared data directory beside it:
`<repo>/../shared/data/db/northwind.sqlite` (the repository root is two levels above this
package). It is copied, never opened for writing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from legacy.sqldb.faults import HeldLock, corrupt_file, remove_file

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_PATH = REPO_ROOT.parent / "shared" / "data" / "db" / "northwind.sqlite"
FILE_NAME = "northwind.sqlite"
DEFAULT_DEMO_DIR = Path(".retrofit") / "demo"


class SeedMissing(FileNotFoundError):
    """The Northwind seed is not where the shared data directory should have it."""

    def __init__(self, seed: Path) -> None:
        super().__init__(
            f"the Northwind seed database is missing: expected {seed} (the shared data directory "
            f"beside the repository, <repo>/../shared/data/db/). Restore it there, or pass seed=..."
        )
        self.seed = seed


class SqlDemoDatabase:
    """One working copy of the seed in `directory`, with the faults tests inject."""

    def __init__(self, directory: Path, *, seed: Path = SEED_PATH) -> None:
        self.directory = Path(directory)
        self.seed = Path(seed)
        self.path = self.directory / FILE_NAME
        #: How long the last `prepare()` or `reset()` took, for the start-time budget (< 2 s).
        self.prepare_seconds: float | None = None

    @property
    def url(self) -> str:
        """What `RETROFIT_NORTHWIND_URL` should be to use this copy."""
        return f"sqlite:///{self.path.resolve()}"

    def prepare(self) -> Path:
        """Copy the seed into the directory (replacing an existing copy); returns the file's path."""
        began = time.perf_counter()
        if not self.seed.is_file():
            raise SeedMissing(self.seed)
        self.directory.mkdir(parents=True, exist_ok=True)
        # Copy next to the target and rename over it: a connection that still has the old file
        # open keeps reading that one, instead of seeing pages change underneath it.
        partial = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.partial")
        shutil.copyfile(self.seed, partial)  # contents only: the seed's read-only mode stays behind
        for suffix in ("-journal", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        os.replace(partial, self.path)
        self.prepare_seconds = time.perf_counter() - began
        return self.path

    def reset(self) -> Path:
        """Back to the seed. Close connectors first: their pooled connections keep the old file."""
        return self.prepare()

    # -- inspection, for tests: plain sqlite3, independent of the code under test ----------------

    def query(self, sql: str, params: Sequence[Any] = (), *, timeout: float = 5.0) -> list[tuple[Any, ...]]:
        """Rows of one read-only query on a fresh connection (waiting up to `timeout` for locks)."""
        connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    # -- faults ------------------------------------------------------------------------------------

    def lock(self, *, seconds: float | None = None) -> HeldLock:
        """Hold an exclusive lock (until released, or for `seconds`): clients see "database is locked"."""
        return HeldLock(self.path, seconds=seconds)

    def remove(self) -> None:
        """Delete the file: clients that connect now cannot open it."""
        remove_file(self.path)

    def corrupt(self) -> None:
        """Damage the header: clients that connect now get "file is not a database"."""
        corrupt_file(self.path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m legacy.sqldb.database", description="Manage the demo Northwind working copy."
    )
    parser.add_argument("command", choices=["prepare"], help="copy the seed into --dir (replacing a copy)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DEMO_DIR, help=f"default: {DEFAULT_DEMO_DIR}")
    args = parser.parse_args(argv)
    database = SqlDemoDatabase(args.dir)
    try:
        path = database.prepare()
    except SeedMissing as exc:
        raise SystemExit(str(exc)) from None
    print(f"demo Northwind database ready: {path} (RETROFIT_NORTHWIND_URL={database.url})", flush=True)


if __name__ == "__main__":
    main()
