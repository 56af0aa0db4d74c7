"""Cheaper seat-assignment rows: the seat and its event as one composite foreign key, the row
known by its booking, seat and time instead of an id, and `ticket_id` indexed only where set.

The drainer writes about 3.4 assignment rows a decision in a rush, and each foreign key costs a
check and a row lock per row, each index an entry (docs/seating.md, "What an assignment row
costs"). `(seat_id, event_id)` → `seat(id, event_id)` replaces the two keys on the seat and on
the event, and makes sure an assignment's event is its seat's; the event's assignments are found
by `(event_id, seat_id)`, which also serves that key's cascade from a deleted seat; the primary
key `(booking_id, seat_id, assigned_at)` replaces the id nobody referred to and the index on the
booking; every row is written without a ticket, so the ticket index covers only the rows that
have one.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-21 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TICKET_SET = "ticket_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("seat") as batch:
        batch.create_unique_constraint("uq_seat_id_event_id", ["id", "event_id"])
    with op.batch_alter_table("seat_assignment") as batch:
        batch.drop_constraint("fk_seat_assignment_event_id_event", type_="foreignkey")
        batch.drop_constraint("fk_seat_assignment_seat_id_seat", type_="foreignkey")
        batch.drop_index("ix_seat_assignment_event_id")
        batch.drop_index("ix_seat_assignment_booking_id")
        batch.drop_index("ix_seat_assignment_ticket_id")
        batch.drop_constraint("pk_seat_assignment", type_="primary")
        batch.drop_column("id")
        batch.create_primary_key("pk_seat_assignment", ["booking_id", "seat_id", "assigned_at"])
        batch.create_foreign_key("fk_seat_assignment_seat_id_event_id_seat", "seat",
                                 ["seat_id", "event_id"], ["id", "event_id"], ondelete="CASCADE")  # fmt: skip
        batch.create_index("ix_seat_assignment_event_id_seat_id", ["event_id", "seat_id"])
        batch.create_index("ix_seat_assignment_ticket_id", ["ticket_id"],
                           postgresql_where=sa.text(TICKET_SET), sqlite_where=sa.text(TICKET_SET))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("seat_assignment") as batch:
        batch.add_column(sa.Column("id", sa.Uuid(), nullable=True))
    # Ids for the rows written without one: random (version 4) ones, as the database makes them.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE seat_assignment SET id = gen_random_uuid()")
    else:
        op.execute("UPDATE seat_assignment SET id = lower(hex(randomblob(16)))")
    with op.batch_alter_table("seat_assignment") as batch:
        batch.alter_column("id", nullable=False)
        batch.drop_constraint("pk_seat_assignment", type_="primary")
        batch.create_primary_key("pk_seat_assignment", ["id"])
        batch.drop_index("ix_seat_assignment_ticket_id")
        batch.drop_index("ix_seat_assignment_event_id_seat_id")
        batch.drop_constraint("fk_seat_assignment_seat_id_event_id_seat", type_="foreignkey")
        batch.create_index("ix_seat_assignment_booking_id", ["booking_id"])
        batch.create_index("ix_seat_assignment_ticket_id", ["ticket_id"])
        batch.create_index("ix_seat_assignment_event_id", ["event_id"])
        batch.create_foreign_key("fk_seat_assignment_seat_id_seat", "seat", ["seat_id"], ["id"], ondelete="CASCADE")
        batch.create_foreign_key("fk_seat_assignment_event_id_event", "event", ["event_id"], ["id"],
                                 ondelete="CASCADE")  # fmt: skip
    with op.batch_alter_table("seat") as batch:
        batch.drop_constraint("uq_seat_id_event_id", type_="unique")
