"""Named tickets with questions: the event's questions, the attendees a booking line names,
and each ticket's attendee email and answers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-17 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "question",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("ticket_type_ids", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("type IN ('text', 'choice', 'boolean')", name=op.f("ck_question_type")),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_question_event_id_event"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question")),
    )  # fmt: skip
    op.create_index(op.f("ix_question_event_id"), "question", ["event_id"])
    with op.batch_alter_table("booking_line") as batch:
        batch.add_column(sa.Column("attendees", sa.JSON(), nullable=True))
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("attendee_email", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("answers", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("ticket") as batch:
        batch.alter_column("answers", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("answers")
        batch.drop_column("attendee_email")
    with op.batch_alter_table("booking_line") as batch:
        batch.drop_column("attendees")
    op.drop_index(op.f("ix_question_event_id"), table_name="question")
    op.drop_table("question")
