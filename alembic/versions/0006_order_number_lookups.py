"""Indexes that find an order by its number within an organization (the inbox's search for a
pasted order number reads one row instead of every order).

A plain CREATE INDEX: it blocks writes to `sales_order` while it builds. Migrations run in one
transaction, where CONCURRENTLY is not allowed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 03:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_sales_order_organization_id_platform_order_id": ["organization_id", "platform_order_id"],
    "ix_sales_order_organization_id_order_number": ["organization_id", "order_number"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "sales_order", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="sales_order")
