"""Listing match suggestions (the review queue) and webhook routing to a store.

A push names only the platform's shop id; `storesync_route_store(platform, shop_id)` returns the
store and its organization before any tenant context exists. It is SECURITY DEFINER, and the
store policy admits the function's owner (the role that ran this migration) besides the current
organization, so the app role still sees only its own stores.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 16:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storesync.settings import get_settings

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_listing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suggested_variant_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("match_confidence", sa.Numeric(precision=4, scale=3), nullable=True)
        )
        batch_op.add_column(
            sa.Column("match_method", sa.String(length=20), server_default="", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_channel_listing_suggested_variant_id_product_variant"),
            "product_variant",
            ["suggested_variant_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # The default only filled existing rows; the app always writes the column.
    with op.batch_alter_table("channel_listing", schema=None) as batch_op:
        batch_op.alter_column("match_method", server_default=None, existing_type=sa.String(20))
    if op.get_bind().dialect.name != "postgresql":
        return
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.execute("DROP POLICY tenant_isolation ON store")
    op.execute(
        "CREATE POLICY tenant_isolation ON store "
        f"USING (organization_id = storesync_current_org() OR current_user = '{owner}') "
        "WITH CHECK (organization_id = storesync_current_org())"
    )
    op.execute(
        "CREATE FUNCTION storesync_route_store(p_platform text, p_shop text) "
        "RETURNS TABLE(store_id uuid, organization_id uuid) "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS "
        "$$ SELECT id, organization_id FROM store "
        "WHERE platform = p_platform AND platform_store_id = p_shop $$"
    )
    role = get_settings().db_app_role.replace('"', '""')
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role.replace("'", "''")}') THEN
            GRANT EXECUTE ON FUNCTION storesync_route_store(text, text) TO "{role}";
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION storesync_route_store(text, text)")
        op.execute("DROP POLICY tenant_isolation ON store")
        op.execute(
            "CREATE POLICY tenant_isolation ON store "
            "USING (organization_id = storesync_current_org()) "
            "WITH CHECK (organization_id = storesync_current_org())"
        )
    with op.batch_alter_table("channel_listing", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_channel_listing_suggested_variant_id_product_variant"),
            type_="foreignkey",
        )
        batch_op.drop_column("match_method")
        batch_op.drop_column("match_confidence")
        batch_op.drop_column("suggested_variant_id")
