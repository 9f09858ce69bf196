"""`lookup` for REST systems that can report a write by its Idempotency-Key.

Many systems that honour `Idempotency-Key` keep the first answer of each key; some expose it
(the demo ledger and CRM answer `GET /idempotency-keys?key=...` with
`{"key", "landed": true, "status", "body"}` or `{"key", "landed": false}`). A connector whose
system does points its `lookup` hook here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from connectors.rest.connector import RestConnector
from retrofit.sdk import LookupResult


class StoredWrite(BaseModel):
    """A system's record of the write made under one Idempotency-Key."""

    key: str
    landed: bool
    status: int | None = None
    body: dict[str, Any] | None = None


async def lookup_stored_write(connector: RestConnector, path: str, key: str) -> LookupResult:
    """Ask `path` (`GET ?key=...`) what the write under `key` did."""
    record = await connector.request_json("GET", path, params={"key": key}, expect=StoredWrite)
    if record.key != key:
        return LookupResult.unknown(f"{connector.name} answered for another key")
    if not record.landed:
        return LookupResult.not_landed(f"{connector.name} has no write under this Idempotency-Key")
    if record.status is None or not 200 <= record.status < 300 or record.body is None:
        return LookupResult.unknown(
            f"{connector.name} kept an answer that is not a success ({record.status})"
        )
    return LookupResult.landed(record.body, f"{connector.name}'s Idempotency-Key record")
