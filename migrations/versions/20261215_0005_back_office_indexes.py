"""The back office's lists and exports, in the order they are read.

An event's bookings are listed and exported newest (or oldest) first, its tickets by attendee
name: with these indexes a page, a count and each keyset batch of an export read the event's
entries in order instead of sorting every row of the event (EXPLAIN in `bench/back_office.py`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_booking_event_requested_at", "booking", ["event_id", "requested_at", "id"])
    op.create_index("ix_ticket_event_attendee_name", "ticket", ["event_id", "attendee_name", "id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_event_attendee_name", table_name="ticket")
    op.drop_index("ix_booking_event_requested_at", table_name="booking")
