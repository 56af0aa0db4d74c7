"""A comp's guests: `user` rows of role `guest`, which are not accounts and may share an address.

A comp used to land on the account of the address it was given (revealing it, and filing the
booking among that person's own); now each comp has a guest row of its own, with the name and
address the organizer gave (core/services/comps.py). So the role check admits `guest`, and the
address is unique among accounts only: a partial unique index (`role <> 'guest'`) replaces the
unique constraint. Comps made before keep the accounts they were filed under.

Downgrading fails while a guest shares an address with another row: delete those first.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNT_ROLES = "role IN ('customer', 'staff', 'organizer', 'admin')"
ROLES = "role IN ('customer', 'staff', 'organizer', 'admin', 'guest')"
NOT_A_GUEST = sa.text("role <> 'guest'")


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_constraint(op.f("uq_user_email"), type_="unique")
        batch.drop_constraint(op.f("ck_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_user_role"), ROLES)
    op.create_index("uq_user_account_email", "user", ["email"], unique=True,
                    postgresql_where=NOT_A_GUEST, sqlite_where=NOT_A_GUEST)  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_user_account_email", table_name="user")
    with op.batch_alter_table("user") as batch:
        batch.drop_constraint(op.f("ck_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_user_role"), ACCOUNT_ROLES)
        batch.create_unique_constraint(op.f("uq_user_email"), ["email"])
