"""The activity feed: the newest events of each organization (orders, stock pushes, finished
sync jobs, store health, notifications), each naming its order, SKU or store and channel with a
link, kept so the dashboard shows them after a reload.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storesync.settings import get_settings

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_activity_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activity_organization_id_created_at"),
            ["organization_id", "created_at"],
            unique=False,
        )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE activity ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE activity FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON activity "
        "USING (organization_id = storesync_current_org()) "
        "WITH CHECK (organization_id = storesync_current_org())"
    )
    role = get_settings().db_app_role
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role.replace("'", "''")}') THEN
            GRANT SELECT, INSERT, UPDATE, DELETE ON activity TO "{role.replace('"', '""')}";
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY tenant_isolation ON activity")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_organization_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_activity_organization_id"))
    op.drop_table("activity")
