"""Reserved seating: seating plans, seats, seat assignments, seated ticket types and the
accessible flag of a booking.

The partial unique index `uq_seat_assignment_live_seat` makes a second live assignment of one
seat impossible (docs/seating.md, "The constraint").

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seating_plan",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("focal_x", sa.Float(), nullable=False),
        sa.Column("focal_y", sa.Float(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("layout_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_seating_plan_event_id_event"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_seating_plan")),
    )  # fmt: skip
    op.create_table(
        "seat",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.Column("section", sa.String(length=60), nullable=False),
        sa.Column("row", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("accessible", sa.Boolean(), nullable=False),
        sa.Column("companion", sa.Boolean(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_seat_event_id_event"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_type_id"], ["ticket_type.id"], name=op.f("fk_seat_ticket_type_id_ticket_type"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat")),
        sa.UniqueConstraint("event_id", "section", "row", "label", name="uq_seat_event_id_section_row_label"),
    )  # fmt: skip
    op.create_index(op.f("ix_seat_ticket_type_id"), "seat", ["ticket_type_id"])
    op.create_index("ix_seat_event_id_position", "seat", ["event_id", "position"])
    op.create_table(
        "seat_assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("seat_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_seat_assignment_event_id_event"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["seat_id"], ["seat.id"], name=op.f("fk_seat_assignment_seat_id_seat"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"], name=op.f("fk_seat_assignment_booking_id_booking"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name=op.f("fk_seat_assignment_ticket_id_ticket"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_assignment")),
    )  # fmt: skip
    op.create_index(op.f("ix_seat_assignment_event_id"), "seat_assignment", ["event_id"])
    op.create_index(op.f("ix_seat_assignment_booking_id"), "seat_assignment", ["booking_id"])
    op.create_index(op.f("ix_seat_assignment_ticket_id"), "seat_assignment", ["ticket_id"])
    op.create_index(
        "uq_seat_assignment_live_seat", "seat_assignment", ["seat_id"], unique=True,
        postgresql_where=sa.text("released_at IS NULL"), sqlite_where=sa.text("released_at IS NULL"),
    )  # fmt: skip
    for table, column in (("ticket_type", "seated"), ("booking", "accessible")):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false()))
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, server_default=None)


def downgrade() -> None:
    for table, column in (("ticket_type", "seated"), ("booking", "accessible")):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    op.drop_index("uq_seat_assignment_live_seat", table_name="seat_assignment")
    op.drop_index(op.f("ix_seat_assignment_ticket_id"), table_name="seat_assignment")
    op.drop_index(op.f("ix_seat_assignment_booking_id"), table_name="seat_assignment")
    op.drop_index(op.f("ix_seat_assignment_event_id"), table_name="seat_assignment")
    op.drop_table("seat_assignment")
    op.drop_index("ix_seat_event_id_position", table_name="seat")
    op.drop_index(op.f("ix_seat_ticket_type_id"), table_name="seat")
    op.drop_table("seat")
    op.drop_table("seating_plan")
