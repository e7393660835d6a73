"""Product handle (stable key per organization) and organization lookups for system work.

`storesync_organization_id(slug)` and `storesync_organization_ids()` let the CLI and workers find
an organization before any tenant context exists. They are SECURITY DEFINER functions owned by the
table owner; the organization table is therefore RLS-enabled but not FORCEd (the owner reads it,
the app role still only sees its own organizations). They return ids only, never names.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:19:56
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storesync.settings import get_settings

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handle", sa.String(length=120), nullable=False))
        batch_op.create_unique_constraint(
            batch_op.f("uq_product_organization_id_handle"), ["organization_id", "handle"]
        )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE organization NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE FUNCTION storesync_organization_id(p_slug text) RETURNS uuid "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS "
        "$$ SELECT id FROM organization WHERE slug = p_slug $$"
    )
    op.execute(
        "CREATE FUNCTION storesync_organization_ids() RETURNS SETOF uuid "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS "
        "$$ SELECT id FROM organization ORDER BY created_at $$"
    )
    role = get_settings().db_app_role.replace('"', '""')
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role.replace("'", "''")}') THEN
            GRANT EXECUTE ON FUNCTION storesync_organization_id(text),
              storesync_organization_ids() TO "{role}";
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION storesync_organization_ids()")
        op.execute("DROP FUNCTION storesync_organization_id(text)")
        op.execute("ALTER TABLE organization FORCE ROW LEVEL SECURITY")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_product_organization_id_handle"), type_="unique")
        batch_op.drop_column("handle")
