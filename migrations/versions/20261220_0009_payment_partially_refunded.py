"""A payment partly given back is `partially_refunded` until its refunds add up to it (issue 16).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "status IN ('pending', 'paid', 'failed', 'expired', 'refunded')"
AFTER = "status IN ('pending', 'paid', 'failed', 'expired', 'partially_refunded', 'refunded')"


def upgrade() -> None:
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint(op.f("ck_payment_status"), type_="check")
        batch.create_check_constraint(op.f("ck_payment_status"), AFTER)


def downgrade() -> None:
    # A payment partly refunded is still money received, as `paid` was before this revision.
    op.execute("UPDATE payment SET status = 'paid' WHERE status = 'partially_refunded'")
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint(op.f("ck_payment_status"), type_="check")
        batch.create_check_constraint(op.f("ck_payment_status"), BEFORE)
