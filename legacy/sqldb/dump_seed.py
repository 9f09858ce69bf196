"""Write the shipped Northwind seed, `seed/northwind.sql`, from an SQLite database file (run once).

    python -m legacy.sqldb.dump_seed ../shared/data/db/northwind.sqlite [--out legacy/sqldb/seed/northwind.sql]

The seed ships as SQL text rather than as the database file: a change to a row is a readable diff,
and git and wheels compress it as well as they would the binary. `SqlDemoDatabase` builds a
database from it once per process (about 25 ms) and then copies that, so a working copy still costs
a millisecond. The text is sqlite3's own dump (`iterdump`): every table with its DDL as written,
every row (blobs as X'..', floats in round-trip form), `sqlite_sequence`, the indexes and views.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from legacy.sqldb.database import SEED_PATH

_HEADER = """\
-- The Northwind sample database (Microsoft Access 2000's tutorial schema, re-engineered for
-- SQLite3 by JP White: https://github.com/jpwhite3/northwind-SQLite3), MIT licence: see
-- NORTHWIND-LICENSE beside this file.
-- Written by `python -m legacy.sqldb.dump_seed` from {name} (sha256 {digest});
-- regenerate it with that command rather than editing it by hand.
"""


def dump(source: Path) -> str:
    """The SQL text that rebuilds `source`: a licence header, then sqlite3's dump of it."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    connection = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        statements = list(connection.iterdump())
    finally:
        connection.close()
    return _HEADER.format(name=source.name, digest=digest) + "\n".join(statements) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m legacy.sqldb.dump_seed", description="Write the Northwind seed as SQL text."
    )
    parser.add_argument("source", type=Path, help="the Northwind SQLite database file to dump")
    parser.add_argument("--out", type=Path, default=SEED_PATH, help=f"default: {SEED_PATH}")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"no such file: {args.source}")
    text = dump(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # newline="": the dump's own line breaks, also on Windows.
    args.out.write_text(text, encoding="utf-8", newline="")
    print(f"wrote {args.out} ({len(text.encode()):,} bytes) from {args.source}", flush=True)


if __name__ == "__main__":
    main()
