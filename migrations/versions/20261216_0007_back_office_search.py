"""The back office's searches: trigram indexes for `ILIKE '%text%'` on names and emails.

A search by part of a customer's name or email, or of an attendee's name, otherwise reads every
customer of the platform and every ticket of the event (EXPLAIN in `bench/back_office.py`). On
PostgreSQL these are GIN indexes of the `pg_trgm` extension (a contrib extension, trusted since
PostgreSQL 13, so the database's owner may create it); SQLite has no such index and gets a plain
one of the same name, which keeps the models and the migrations in agreement on both. Downgrading
leaves the extension in place: something else may use it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-16 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_user_name_trgm", "user", "name"),
    ("ix_user_email_trgm", "user", "email"),
    ("ix_ticket_attendee_name_trgm", "ticket", "attendee_name"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        op.create_index(
            name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
        )


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
