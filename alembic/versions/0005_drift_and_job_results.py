"""Reconciliation drift records, sync job results, and when a store became unhealthy.

`stock_drift` is a tenant table: RLS is forced on it like on every other (see 0002).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 17:40:07.935460
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storesync.settings import get_settings

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_drift",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("found", sa.Integer(), nullable=True),
        sa.Column("repaired", sa.Boolean(), nullable=False),
        sa.Column("repaired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["sync_job.id"],
            name=op.f("fk_stock_drift_job_id_sync_job"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["channel_listing.id"],
            name=op.f("fk_stock_drift_listing_id_channel_listing"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_stock_drift_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store.id"],
            name=op.f("fk_stock_drift_store_id_store"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_drift")),
    )
    with op.batch_alter_table("stock_drift", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_drift_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_drift_store_id_created_at"),
            ["store_id", "created_at"],
            unique=False,
        )

    with op.batch_alter_table("store", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unhealthy_since", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "result",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                server_default="{}",
                nullable=False,
            )
        )

    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.alter_column("result", server_default=None, existing_type=sa.JSON())
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE stock_drift ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE stock_drift FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON stock_drift "
        "USING (organization_id = storesync_current_org()) "
        "WITH CHECK (organization_id = storesync_current_org())"
    )
    role = get_settings().db_app_role
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role.replace("'", "''")}') THEN
            GRANT SELECT, INSERT, UPDATE, DELETE ON stock_drift TO "{role.replace('"', '""')}";
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.drop_column("result")

    with op.batch_alter_table("store", schema=None) as batch_op:
        batch_op.drop_column("unhealthy_since")

    with op.batch_alter_table("stock_drift", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_drift_store_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_stock_drift_organization_id"))

    op.drop_table("stock_drift")
