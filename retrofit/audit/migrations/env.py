"""Alembic environment for the audit schema.

At runtime `retrofit.audit.migrate` passes an open connection (inside the chain-lock transaction)
through `config.attributes["connection"]`. Without one — a developer running the alembic command
line — it connects to `sqlalchemy.url` from the config or RETROFIT_AUDIT_URL.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from retrofit.audit.schema import ALEMBIC_VERSION_TABLE, Base
from retrofit.audit.url import sync_url

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("RETROFIT_AUDIT_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url or RETROFIT_AUDIT_URL to run audit migrations")
    return sync_url(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=ALEMBIC_VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds the table for future revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    # A no-op when the caller already opened a transaction (the runtime path); the caller commits.
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=Base.metadata,
        version_table=ALEMBIC_VERSION_TABLE,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
