"""Write audit records out as JSON Lines or CSV.

Imports no SQLAlchemy, so the package can re-export `export` eagerly (see `__init__`).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import TYPE_CHECKING, Literal, TextIO

from retrofit.audit.chain import RECORD_FIELDS, canonical_json, format_utc, payload_of
from retrofit.audit.events import AuditRecord

if TYPE_CHECKING:
    from retrofit.audit.store import AuditStore

ExportFormat = Literal["jsonl", "csv"]


async def _records(store: AuditStore, workflow_id: str | None) -> AsyncGenerator[AuditRecord, None]:
    if workflow_id is None:
        async for record in store.iter_records():
            yield record
    else:
        for record in await store.for_workflow(workflow_id):
            yield record


def _csv_cell(name: str, value: object) -> object:
    if value is None:
        return ""
    if name == "data":
        return canonical_json(value)
    if isinstance(value, datetime):
        return format_utc(value)
    return value


async def export(
    store: AuditStore,
    fmt: ExportFormat,
    out: TextIO,
    workflow_id: str | None = None,
) -> int:
    """Write every record (or one workflow's) in seq order to `out`; returns how many.

    JSONL lines are `AuditRecord` JSON, so they load back with `AuditRecord.model_validate_json`
    and can be re-verified with `verify_chain`. CSV has a header row of the stored columns, with
    `data` as a JSON string and empty cells for nulls.
    """

    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}; expected 'jsonl' or 'csv'")
    written = 0
    async with aclosing(_records(store, workflow_id)) as records:
        if fmt == "jsonl":
            async for record in records:
                out.write(record.model_dump_json())
                out.write("\n")
                written += 1
            return written

        # "\n" rather than csv's default "\r\n": `out` is usually stdout or a text file opened
        # without newline="", where "\r\n" would come out doubled on Windows.
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(RECORD_FIELDS)
        async for record in records:
            payload = payload_of(record)
            writer.writerow([_csv_cell(name, payload[name]) for name in RECORD_FIELDS])
            written += 1
    return written
