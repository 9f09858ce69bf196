"""`SqlDemoDatabase`: a working copy of the Northwind seed that tests and the demo may change.

The seed ships inside this package as SQL text, `seed/northwind.sql` (package data, with its MIT
licence beside it; written once by `python -m legacy.sqldb.dump_seed`), so a fresh clone or a
plain `pip install` has it. `built_seed()` turns it into an SQLite database image once per
process; every working copy is then a write of that image, about a millisecond. The seed file is
never written. An SQLite database file may be passed as the seed instead of SQL text.
"""

from __future__ import annotations

import argparse
import functools
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from legacy.sqldb.faults import HeldLock, corrupt_file, remove_file

SEED_PATH = Path(__file__).resolve().parent / "seed" / "northwind.sql"
FILE_NAME = "northwind.sqlite"
DEFAULT_DEMO_DIR = Path(".retrofit") / "demo"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class SeedMissing(FileNotFoundError):
    """The Northwind seed is not where it was looked for."""

    def __init__(self, seed: Path) -> None:
        super().__init__(
            f"the Northwind seed database is missing: expected {seed} (it ships in the package as "
            f"legacy/sqldb/seed/northwind.sql: reinstall retrofit, or pass seed=...)"
        )
        self.seed = seed


class SeedInvalid(ValueError):
    """The seed file is neither an SQLite database nor SQL text that builds one."""

    def __init__(self, seed: Path, problem: str) -> None:
        super().__init__(f"the Northwind seed {seed} does not build a database: {problem}")
        self.seed = seed


def built_seed(seed: Path = SEED_PATH) -> bytes:
    """The SQLite database image (file bytes) of `seed`: the file itself if it is a database,
    otherwise the database its SQL builds. Built once per process and seed version."""
    seed = Path(seed).resolve()
    try:
        stat = seed.stat()
    except FileNotFoundError:
        raise SeedMissing(seed) from None
    if not seed.is_file():
        raise SeedMissing(seed)
    return _built(seed, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _built(seed: Path, size: int, mtime_ns: int) -> bytes:
    # size and mtime are part of the key only so that a seed rewritten in place is built anew.
    data = seed.read_bytes()
    if data.startswith(_SQLITE_MAGIC):
        return data
    try:
        script = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SeedInvalid(seed, f"not UTF-8 SQL text ({exc.reason} at byte {exc.start})") from None
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(script)
        if not connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
            raise SeedInvalid(seed, "its SQL creates no table")
        return connection.serialize()
    except sqlite3.Error as exc:
        raise SeedInvalid(seed, str(exc)) from None
    finally:
        connection.close()


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
        """Write the seed's database into the directory (replacing a copy); returns the file's path."""
        began = time.perf_counter()
        image = built_seed(self.seed)
        self.directory.mkdir(parents=True, exist_ok=True)
        # Write next to the target and rename over it: a connection that still has the old file
        # open keeps reading that one, instead of seeing pages change underneath it.
        partial = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.partial")
        partial.write_bytes(image)
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
    parser.add_argument("command", choices=["prepare"], help="write the seed into --dir (replacing a copy)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DEMO_DIR, help=f"default: {DEFAULT_DEMO_DIR}")
    args = parser.parse_args(argv)
    database = SqlDemoDatabase(args.dir)
    try:
        path = database.prepare()
    except (SeedMissing, SeedInvalid) as exc:
        raise SystemExit(str(exc)) from None
    print(f"demo Northwind database ready: {path} (RETROFIT_NORTHWIND_URL={database.url})", flush=True)


if __name__ == "__main__":
    main()
