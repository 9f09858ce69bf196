"""Faults for the demo SQL database: what a down or broken legacy database looks like to a client.

A server-based legacy database fails by refusing connections or timing out. A SQLite file fails by
being locked by another program (a report, a backup, the legacy application itself), by vanishing
(an unmounted share) or by being damaged. These helpers cause exactly that, with real SQLite locks
and real files, so the connector's error mapping is tested against the genuine articles.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import TracebackType


class HeldLock:
    """`BEGIN EXCLUSIVE` held on a separate connection until `release()` (or for a fixed time).

    While it is held, every other connection's reads and writes wait for their busy timeout and
    then fail with "database is locked" (the file uses a rollback journal, where an exclusive lock
    shuts out readers too).
    """

    def __init__(self, path: Path, *, seconds: float | None = None) -> None:
        # isolation_level=None: sqlite3 must not manage transactions; the lock is ours to hold.
        # check_same_thread=False: the timer releases it from its own thread.
        self._connection: sqlite3.Connection | None = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=5.0
        )
        self._guard = threading.Lock()
        try:
            self._connection.execute("BEGIN EXCLUSIVE")
        except BaseException:
            self._connection.close()
            raise
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self.release)
            self._timer.daemon = True
            self._timer.start()

    @property
    def held(self) -> bool:
        with self._guard:
            return self._connection is not None

    def release(self) -> None:
        """Give the lock back; safe to call twice and from any thread."""
        with self._guard:
            connection, self._connection = self._connection, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if connection is not None:
            connection.execute("ROLLBACK")
            connection.close()

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def remove_file(path: Path) -> None:
    """The database file disappears, as when the share it lives on is unmounted."""
    path.unlink(missing_ok=True)
    for suffix in ("-journal", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def corrupt_file(path: Path) -> None:
    """Overwrite the header, so SQLite reports "file is not a database" on the next connection."""
    with path.open("r+b") as handle:
        handle.write(b"this is not a SQLite database!!!" * 4)
