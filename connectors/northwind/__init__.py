"""The demo Northwind database (`legacy/sqldb`) as a connector: `connector` (I/O) and `models` (pure)."""
