"""Accounts: password hashes apart from `app_user` (the app role writes them, never selects them),
`app_user` visible only as oneself and the current organization's members, server-side browser
sessions, single-use emailed links (invitations, sign-up, password reset), OAuth connect states
bound to a session; the audit log's actor, API key and client address.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storesync.settings import get_settings

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_WHEN = sa.DateTime(timezone=True)
_CURRENT_ORG = "storesync_current_org()"
_CURRENT_USER = "storesync_current_user_id()"


def upgrade() -> None:
    op.create_table(
        "user_credential",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("changed_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_credential_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_credential")),
    )
    op.execute(
        "INSERT INTO user_credential (user_id, password_hash, changed_at) "
        "SELECT id, password_hash, created_at FROM app_user"
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("password_hash")

    op.create_table(
        "user_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("current_organization_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("last_seen_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("activated_at", _WHEN, nullable=True),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["current_organization_id"],
            ["organization.id"],
            name=op.f("fk_user_session_current_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_session_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_session_token_hash")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "account_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.CheckConstraint(
            "purpose IN ('invite', 'signup', 'reset')", name=op.f("ck_account_link_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["app_user.id"],
            name=op.f("fk_account_link_created_by_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_account_link_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_link_token_hash")),
    )
    with op.batch_alter_table("account_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_link_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_account_link_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "oauth_state",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_oauth_state_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_session.id"],
            name=op.f("fk_oauth_state_session_id_user_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_oauth_state_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_state")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_oauth_state_nonce_hash")),
    )
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_state_organization_id"), ["organization_id"], unique=False
        )

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_api_key_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("actor", sa.String(length=320), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("client_address", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_log_actor_api_key_id_api_key"),
            "api_key",
            ["actor_api_key_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("actor", server_default=None)
        batch_op.alter_column("client_address", server_default=None)

    if op.get_bind().dialect.name == "postgresql":
        _secure_postgresql()


def _secure_postgresql() -> None:
    # app_user: oneself, and the members of the current organization. A new login is inserted
    # with its own id as the current user (sign-up, an accepted invitation).
    # Not FORCEd on these two: their owner (the migrations' role) runs the SECURITY DEFINER
    # lookups below, which must see every login; the app role owns nothing and is filtered.
    for table in ("app_user", "user_credential"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE account_link ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE account_link FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY user_visibility ON app_user FOR SELECT USING ("
        f"id = {_CURRENT_USER} OR id IN "
        f"(SELECT user_id FROM membership WHERE organization_id = {_CURRENT_ORG}))"
    )
    op.execute(
        f"CREATE POLICY user_self_insert ON app_user FOR INSERT WITH CHECK (id = {_CURRENT_USER})"
    )
    op.execute(
        f"CREATE POLICY user_self_update ON app_user FOR UPDATE USING (id = {_CURRENT_USER}) "
        f"WITH CHECK (id = {_CURRENT_USER})"
    )
    op.execute(
        f"CREATE POLICY credential_self ON user_credential USING (user_id = {_CURRENT_USER}) "
        f"WITH CHECK (user_id = {_CURRENT_USER})"
    )
    # Invitations belong to their organization (an invitation's token starts with its
    # organization's id, so accepting one needs no lookup across tenants); sign-up and reset
    # links to no organization.
    op.execute(
        "CREATE POLICY tenant_isolation ON account_link USING "
        f"(organization_id IS NULL OR organization_id = {_CURRENT_ORG}) "
        f"WITH CHECK (organization_id IS NULL OR organization_id = {_CURRENT_ORG})"
    )
    op.execute("ALTER TABLE oauth_state ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE oauth_state FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON oauth_state "
        f"USING (organization_id = {_CURRENT_ORG}) WITH CHECK (organization_id = {_CURRENT_ORG})"
    )
    # What must be found before anyone is known: a login's hash by email (sign-in), and whether
    # an email has a login (sign-up, invitations).
    op.execute(
        "CREATE FUNCTION storesync_login(p_email text) "
        "RETURNS TABLE(user_id uuid, password_hash text, is_active boolean) "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS "
        "$$ SELECT u.id, c.password_hash, u.is_active FROM app_user u "
        "JOIN user_credential c ON c.user_id = u.id WHERE u.email = p_email $$"
    )
    op.execute(
        "CREATE FUNCTION storesync_user_id(p_email text) RETURNS uuid "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS "
        "$$ SELECT id FROM app_user WHERE email = p_email $$"
    )
    role = get_settings().db_app_role
    quoted = '"' + role.replace('"', '""') + '"'
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role.replace("'", "''")}') THEN
            GRANT SELECT, INSERT, UPDATE, DELETE ON user_session, account_link, oauth_state
              TO {quoted};
            GRANT INSERT ON user_credential TO {quoted};
            GRANT SELECT (user_id, changed_at) ON user_credential TO {quoted};
            GRANT UPDATE (password_hash, changed_at) ON user_credential TO {quoted};
            GRANT EXECUTE ON FUNCTION storesync_login(text), storesync_user_id(text)
              TO {quoted};
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION storesync_user_id(text)")
        op.execute("DROP FUNCTION storesync_login(text)")
        for policy in ("user_visibility", "user_self_insert", "user_self_update"):
            op.execute(f"DROP POLICY {policy} ON app_user")
        op.execute("ALTER TABLE app_user DISABLE ROW LEVEL SECURITY")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_audit_log_actor_api_key_id_api_key"), type_="foreignkey"
        )
        batch_op.drop_column("client_address")
        batch_op.drop_column("actor")
        batch_op.drop_column("actor_api_key_id")
    op.drop_table("oauth_state")
    op.drop_table("account_link")
    op.drop_table("user_session")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_hash", sa.String(length=255), nullable=False, server_default="")
        )
    op.execute(
        "UPDATE app_user SET password_hash = (SELECT c.password_hash FROM user_credential c "
        "WHERE c.user_id = app_user.id)"
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.alter_column("password_hash", server_default=None)
    op.drop_table("user_credential")
