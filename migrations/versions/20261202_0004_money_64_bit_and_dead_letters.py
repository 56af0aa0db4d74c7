"""Money in 64 bits (a total over 2^31 minor units failed its insert and stalled the event's
queue), and the dead letters the drainer sets aside instead of stalling.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = (("booking", "total"), ("booking_line", "unit_price"), ("payment", "amount"), ("refund", "amount"))


def upgrade() -> None:
    for table, column in MONEY_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
    op.create_table(
        "dead_letter",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("queue_seq", sa.BigInteger(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_dead_letter_event_id_event"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_dead_letter")),
    )
    op.create_index(op.f("ix_dead_letter_event_id"), "dead_letter", ["event_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dead_letter_event_id"), table_name="dead_letter")
    op.drop_table("dead_letter")
    for table, column in MONEY_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
