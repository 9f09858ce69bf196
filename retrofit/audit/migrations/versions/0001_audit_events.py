"""audit_events: the hash-chained audit trail.

Revision ID: 0001
Revises:
Create Date: 2024-11-28

Written by hand; keep it in step with retrofit/audit/schema.py (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        # INTEGER on SQLite so the primary key is the rowid; the store assigns it, never the
        # database (no SERIAL/IDENTITY), because seq is the chain order.
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor_kind", sa.String(length=32), nullable=False),
        sa.Column("actor_name", sa.Text(), nullable=False),
        sa.Column("actor_identity", sa.Text(), nullable=True),
        sa.Column("workflow_id", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("workflow_type", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("effect", sa.String(length=32), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        # JSON rather than JSONB: the stored text stays byte-for-byte what was hashed.
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
        sa.UniqueConstraint("event_id", name="uq_audit_events_event_id"),
    )
    op.create_index(
        "ix_audit_events_workflow_id_seq", "audit_events", ["workflow_id", "seq"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_workflow_id_seq", table_name="audit_events")
    op.drop_table("audit_events")
