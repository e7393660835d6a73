"""Row-level security: every tenant table only shows the current organization's rows.

The app sets `app.org_id` / `app.user_id` per transaction (storesync.db). Policies are FORCEd, so
even the table owner is filtered; the app role owns nothing and so cannot switch them off.
PostgreSQL only: SQLite (embedded, one merchant) has no RLS.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:20:00
"""

from collections.abc import Sequence

from alembic import op

from storesync.settings import get_settings

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen at this revision; tests check that every table with organization_id is covered.
TENANT_TABLES = (
    "audit_log",
    "channel_allocation",
    "channel_listing",
    "inventory_item",
    "inventory_transaction",
    "location",
    "notification",
    "order_event",
    "order_item",
    "product",
    "product_variant",
    "reservation",
    "sales_order",
    "stock_outbox",
    "store",
    "sync_job",
    "webhook_event",
)
APPEND_ONLY_TABLES = ("audit_log", "inventory_transaction", "order_event")
ALL_TABLES = (*TENANT_TABLES, "app_user", "membership", "organization")

_CURRENT_ORG = "storesync_current_org()"
_CURRENT_USER = "storesync_current_user_id()"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION storesync_current_org() RETURNS uuid LANGUAGE sql STABLE AS "
        "$$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$"
    )
    op.execute(
        "CREATE FUNCTION storesync_current_user_id() RETURNS uuid LANGUAGE sql STABLE AS "
        "$$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$"
    )
    for table in TENANT_TABLES:
        _enable(table)
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (organization_id = {_CURRENT_ORG}) "
            f"WITH CHECK (organization_id = {_CURRENT_ORG})"
        )
    # A user sees their own memberships (to pick an organization at sign-in) and, inside an
    # organization, its members; rows can only be written for the current organization.
    _enable("membership")
    op.execute(
        "CREATE POLICY tenant_isolation ON membership "
        f"USING (organization_id = {_CURRENT_ORG} OR user_id = {_CURRENT_USER}) "
        f"WITH CHECK (organization_id = {_CURRENT_ORG})"
    )
    _enable("organization")
    op.execute(
        "CREATE POLICY tenant_isolation ON organization "
        f"USING (id = {_CURRENT_ORG} OR id IN "
        f"(SELECT organization_id FROM membership WHERE user_id = {_CURRENT_USER})) "
        f"WITH CHECK (id = {_CURRENT_ORG})"
    )
    _grant(get_settings().db_app_role)


def _enable(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def _grant(role: str) -> None:
    """Grant the app role data access only (no ownership, no DDL); ledgers are append-only."""
    quoted = _quote(role)
    writable = ", ".join(t for t in ALL_TABLES if t not in APPEND_ONLY_TABLES)
    ledgers = ", ".join(APPEND_ONLY_TABLES)
    role_literal = role.replace("'", "''")
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role_literal}') THEN
            GRANT USAGE ON SCHEMA public TO {quoted};
            GRANT SELECT, INSERT, UPDATE, DELETE ON {writable} TO {quoted};
            GRANT SELECT, INSERT ON {ledgers} TO {quoted};
            GRANT SELECT ON alembic_version TO {quoted};
          ELSE
            RAISE NOTICE 'role % does not exist: grant it access later', '{role_literal}';
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = get_settings().db_app_role
    role_literal = role.replace("'", "''")
    tables = ", ".join(ALL_TABLES)
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role_literal}') THEN
            REVOKE ALL ON {tables}, alembic_version FROM {_quote(role)};
          END IF;
        END $$;
        """
    )
    for table in (*TENANT_TABLES, "membership", "organization"):
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION storesync_current_user_id()")
    op.execute("DROP FUNCTION storesync_current_org()")
