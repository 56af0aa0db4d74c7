"""The attendee list's search by an attendee's email: a trigram index on `ticket.attendee_email`.

The list shows the email of the attendee named on each ticket and finds tickets by part of it, as
it does by part of the attendee's name (migration 0007 explains the index and its SQLite form).

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_ticket_attendee_email_trgm",
        "ticket",
        ["attendee_email"],
        postgresql_using="gin",
        postgresql_ops={"attendee_email": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_attendee_email_trgm", table_name="ticket")
