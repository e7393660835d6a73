"""When the oldest order a stock push carries arrived: the propagation histogram (an order's push
received → the channel confirming the stock it changed) reads it when the push is confirmed.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stock_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caused_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock_outbox", schema=None) as batch_op:
        batch_op.drop_column("caused_at")
