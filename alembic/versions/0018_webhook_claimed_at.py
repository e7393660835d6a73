"""When a run last claimed a webhook event: the sweep presumes a run dead when it has held its
events `STUCK_PROCESSING` since the claim (it measured from the push's arrival, so after a
backlog it put back batches claimed a moment ago and they were processed twice).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 01:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
