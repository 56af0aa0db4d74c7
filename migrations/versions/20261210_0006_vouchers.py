"""Vouchers (codes with a discount and a redemption counter), the booking's voucher, and each
ticket type's own sales window, minimum per booking and hidden flag.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voucher",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=True),
        sa.Column("discount_amount", sa.Integer(), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("redeemed", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ticket_type_ids", sa.JSON(), nullable=False),
        sa.Column("unlocks_hidden", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(discount_percent IS NULL) <> (discount_amount IS NULL)", name=op.f("ck_voucher_one_discount")),
        sa.CheckConstraint("discount_percent BETWEEN 0 AND 100", name=op.f("ck_voucher_percent_in_range")),
        sa.CheckConstraint("discount_amount >= 0", name=op.f("ck_voucher_amount_not_negative")),
        sa.CheckConstraint("max_redemptions >= 1", name=op.f("ck_voucher_max_redemptions_positive")),
        sa.CheckConstraint(
            "redeemed >= 0 AND (max_redemptions IS NULL OR redeemed <= max_redemptions)",
            name=op.f("ck_voucher_redemptions_not_exceeded"),
        ),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_voucher_event_id_event"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher")),
        sa.UniqueConstraint("event_id", "code", name="uq_voucher_event_id_code"),
    )
    op.create_index(op.f("ix_voucher_event_id"), "voucher", ["event_id"])
    # Batch mode: SQLite (the smoke test's database) cannot ALTER constraints in place.
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("voucher_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(op.f("fk_booking_voucher_id_voucher"), "voucher", ["voucher_id"], ["id"], ondelete="RESTRICT")
        batch.create_index(op.f("ix_booking_voucher_id"), ["voucher_id"])
    with op.batch_alter_table("ticket_type") as batch:
        batch.add_column(sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("sales_start", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sales_end", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("min_per_booking", sa.Integer(), nullable=False, server_default="1"))
        batch.create_check_constraint(op.f("ck_ticket_type_min_per_booking_positive"), "min_per_booking >= 1")
    with op.batch_alter_table("ticket_type") as batch:
        batch.alter_column("hidden", server_default=None)
        batch.alter_column("min_per_booking", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("ticket_type") as batch:
        batch.drop_constraint(op.f("ck_ticket_type_min_per_booking_positive"), type_="check")
        for column in ("min_per_booking", "sales_end", "sales_start", "hidden"):
            batch.drop_column(column)
    with op.batch_alter_table("booking") as batch:
        batch.drop_index(op.f("ix_booking_voucher_id"))
        batch.drop_constraint(op.f("fk_booking_voucher_id_voucher"), type_="foreignkey")
        batch.drop_column("voucher_id")
    op.drop_index(op.f("ix_voucher_event_id"), table_name="voucher")
    op.drop_table("voucher")
