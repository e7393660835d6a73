"""A variant's own picture: the id of one of its product's images (blank: the product's main
image stands for it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("product_variant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("image_id", sa.String(length=40), nullable=False, server_default="")
        )
    with op.batch_alter_table("product_variant", schema=None) as batch_op:
        batch_op.alter_column("image_id", server_default=None, existing_type=sa.String(40))


def downgrade() -> None:
    with op.batch_alter_table("product_variant", schema=None) as batch_op:
        batch_op.drop_column("image_id")
