"""A store's last push received, read from its newest webhook event (the Stores page shows
whether the marketplace's pushes arrive).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_event_store_id_received_at"),
            ["store_id", "received_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_event_store_id_received_at"))
