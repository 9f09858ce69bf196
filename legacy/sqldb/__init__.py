"""The demo SQL legacy system: a working copy of the Northwind SQLite database.

SQLite has no server, so "the legacy system" is a file the connector opens directly. Tests and the
demo get a fresh copy of the read-only seed (`shared/data/db/northwind.sqlite`, beside the repo) in
a directory they own; the seed itself is never written.

- `database` — `SqlDemoDatabase`: prepare, reset and inspect a working copy;
  `python -m legacy.sqldb.database prepare` for the dev stack.
- `faults`   — what "down" means for a file: a held exclusive lock ("database is locked"),
  a missing file, a corrupt file.
- `postgres` — `PostgresDemoDatabase`: the same seed loaded into a PostgreSQL database (same
  table and column names), a held table lock as its fault; `python -m legacy.sqldb.postgres load`
  for docker-compose.

The modules are deliberately not re-exported here, for the same reason as in `legacy.ledger`:
`python -m legacy.sqldb.database` would otherwise import `database` twice.
"""
