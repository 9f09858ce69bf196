"""Run the audit schema migrations from code; no alembic.ini is needed at runtime."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from retrofit.audit.engine import chain_write, create_audit_engine
from retrofit.audit.url import sync_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _escape(value: str) -> str:
    # Config options go through ConfigParser interpolation, where "%" is special.
    return value.replace("%", "%%")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for this migration set; `url` is only needed for offline (--sql) runs."""

    config = Config()
    config.set_main_option("script_location", _escape(str(MIGRATIONS_DIR)))
    if url is not None:
        config.set_main_option("sqlalchemy.url", _escape(sync_url(url)))
    return config


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """Upgrade through `connection`. An open transaction on it is reused, not committed."""

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade_engine(engine: AsyncEngine) -> None:
    # Under the chain lock: processes that open a fresh database together must not both run
    # CREATE TABLE; the second one waits and then finds the schema at head.
    async with chain_write(engine) as conn:
        await conn.run_sync(upgrade_connection)


def upgrade_to_head(url: str) -> None:
    """Bring the audit schema at `url` to the newest revision (blocking).

    Runs on a private event loop in a worker thread, so it also works when the calling thread is
    already running a loop (inside async code, prefer `await AuditStore.open(url)`).
    """

    async def run() -> None:
        engine = create_audit_engine(url)
        try:
            await upgrade_engine(engine)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-migrate") as pool:
        pool.submit(lambda: asyncio.run(run())).result()
