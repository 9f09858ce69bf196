"""`retrofit connectors new NAME --from-db URL`: a database becomes a connector package.

Modules: `connect` (the URL, read-only access, the password kept out), `schema` (tables and
views as the SQL base reflects them, SQLite storage classes sampled), `pytypes` (column types as
Python annotations), `naming`, `models` (one model module per table), `actions` (the action
bodies), `reader` (`read_database`, which puts them together).
"""

from connectors.scaffold.database.reader import read_database

__all__ = ["read_database"]
