"""The demo SQL legacy system: a working copy of the Northwind SQLite database.

SQLite has no server, so "the legacy system" is a file the connector opens directly. Tests and the
demo get a fresh copy of the seed in a directory they own; the seed ships in this package as SQL
text (`seed/northwind.sql`, MIT, licence beside it) and is never written.

- `database`  — `SqlDemoDatabase`: prepare, reset and inspect a working copy;
  `python -m legacy.sqldb.database prepare` for the dev stack.
- `dump_seed` — writes `seed/northwind.sql` from an SQLite file (`python -m legacy.sqldb.dump_seed`).
- `faults`    — what "down" means for a file: a held exclusive lock ("database is locked"),
  a missing file, a corrupt file.
- `postgres`  — `PostgresDemoDatabase`: the same seed loaded into a PostgreSQL database (same
  table and column names), a held table lock as its fault; `python -m legacy.sqldb.postgres load`
  for docker-compose.

The modules are deliberately not re-exported here, for the same reason as in `legacy.ledger`:
`python -m legacy.sqldb.database` would otherwise import `database` twice.
"""
