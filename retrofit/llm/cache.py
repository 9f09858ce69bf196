"""A response cache for identical model requests: same model, temperature, messages and tools.

Keyed by the request hash the audit trail records as the prompt hash. Entries hold what the
provider answered *after* redaction, so the cache holds no more than history does. A cache is
disposable: its one table is created on open, with no migrations; delete the file to empty it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from retrofit.audit.url import normalize_url, sqlite_file
from retrofit.llm.contracts import LlmResponse

_metadata = sa.MetaData()
_entries = sa.Table(
    "llm_response_cache",
    _metadata,
    sa.Column("request_hash", sa.String(64), primary_key=True),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("hits", sa.Integer, nullable=False, default=0),
)


class ResponseCache:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, url: str) -> ResponseCache:
        path = sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(normalize_url(url))
        async with engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    async def get(self, request_hash: str) -> LlmResponse | None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(_entries.c.response).where(_entries.c.request_hash == request_hash)
                )
            ).first()
            if row is None:
                return None
            await conn.execute(
                _entries.update()
                .where(_entries.c.request_hash == request_hash)
                .values(hits=_entries.c.hits + 1)
            )
        return LlmResponse.model_validate_json(row[0])

    async def put(self, request_hash: str, response: LlmResponse) -> None:
        async with self._engine.begin() as conn:
            exists = (
                await conn.execute(
                    sa.select(_entries.c.request_hash).where(_entries.c.request_hash == request_hash)
                )
            ).first()
            if exists is None:  # first answer wins: a retried activity must not replace it
                await conn.execute(
                    _entries.insert().values(
                        request_hash=request_hash,
                        response=response.model_dump_json(),
                        stored_at=datetime.now(UTC),
                        hits=0,
                    )
                )
