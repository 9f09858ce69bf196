"""The `audit_events` table.

The migration in `migrations/versions/` is written by hand; a test compares it with this model so
the two cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from retrofit.audit.chain import as_utc

# Alembic's bookkeeping table for this migration set; its own name so the audit schema can share a
# database with other Retrofit components that also use Alembic.
ALEMBIC_VERSION_TABLE = "audit_alembic_version"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; on SQLite only the exact spelling INTEGER PRIMARY KEY aliases the rowid,
# which keeps the table clustered on seq.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


# On SQLite a timestamp is stored as the very text the hash chain uses for it (chain.format_utc):
# verify() can hash the stored strings without parsing them, and the fast insert path can write
# the strings it hashed. fromisoformat() reads it back as an aware datetime.
SQLITE_TIMESTAMP_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d+00:00"
)
# SQLAlchemy leaves this constructor unannotated.
_SQLITE_TIMESTAMP = sqlite.DATETIME(storage_format=SQLITE_TIMESTAMP_FORMAT)  # type: ignore[no-untyped-call]


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned as UTC.

    SQLite has no time zone type and SQLAlchemy writes the wall-clock fields of whatever it gets,
    so an aware non-UTC value would silently shift. Converting on the way in and tagging on the
    way out keeps the value (and so the hash) identical across backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLITE_TIMESTAMP)
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    # for_workflow() filters on workflow_id and orders by seq: one index serves both.
    __table_args__ = (Index("ix_audit_events_workflow_id_seq", "workflow_id", "seq"),)

    # Assigned by the store under the chain lock, never by the database, so it has no gaps.
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    actor_kind: Mapped[str] = mapped_column(String(32))
    actor_name: Mapped[str] = mapped_column(Text)
    actor_identity: Mapped[str | None] = mapped_column(Text)
    workflow_id: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str] = mapped_column(Text)
    workflow_type: Mapped[str] = mapped_column(Text)
    step: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str | None] = mapped_column(Text)
    effect: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int | None] = mapped_column(Integer)
    # JSON, not JSONB: PostgreSQL keeps the text as written, which is already canonical.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# Columns are declared in chain.RECORD_FIELDS order; a test holds them to it.
audit_events = cast(Table, AuditEventRow.__table__)
