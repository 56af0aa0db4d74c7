"""The fair opening: an event's waiting room opening time, and each room's seed and shuffle record.

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("waiting_room_opens_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "waiting_room",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("seed_commitment", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shuffled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entrants", sa.Integer(), nullable=True),
        sa.Column("first_queue_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_waiting_room_event_id_event"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_waiting_room")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("waiting_room")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("waiting_room_opens_at")
