"""Row-level security on PostgreSQL, connected as the app role (which owns no table)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, ProgrammingError

from storesync.catalog.models import Product
from storesync.core.errors import AppError
from storesync.db import UnsafeDatabaseRole, assert_rls_enforced, make_engine, session_scope
from storesync.models import APPEND_ONLY_TABLES, TENANT_TABLES
from storesync.orders.models import Order
from storesync.tenancy import service as tenancy
from tests.conftest import PgDatabase
from tests.factories import Tenant, make_tenant

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def tenants(app_engine: Engine) -> tuple[Tenant, Tenant]:
    return make_tenant(app_engine, name="Org A"), make_tenant(app_engine, name="Org B")


@pytest.mark.parametrize("table", ["product", "sales_order", "channel_listing"])
def test_plain_select_in_a_context_returns_only_that_organizations_rows(
    app_engine: Engine, tenants: tuple[Tenant, Tenant], table: str
) -> None:
    a, b = tenants

    with session_scope(a.ctx, engine=app_engine) as session:
        orgs = session.execute(sa.text(f"SELECT DISTINCT organization_id FROM {table}")).scalars()
        seen = set(orgs)
        b_rows = session.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE organization_id = :b"),
            {"b": b.ctx.organization_id},
        ).scalar_one()

    assert seen == {a.ctx.organization_id}
    assert b_rows == 0


def test_orm_get_of_another_organizations_row_finds_nothing(
    app_engine: Engine, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants

    with session_scope(a.ctx, engine=app_engine) as session:
        assert session.get(Product, b.product_id) is None
        assert session.get(Order, b.order_id) is None
        assert session.get(Product, a.product_id) is not None


def test_inserting_a_row_for_another_organization_is_refused(
    app_engine: Engine, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants

    with pytest.raises(ProgrammingError, match="row-level security"):
        with session_scope(a.ctx, engine=app_engine) as session:
            session.add(
                Product(organization_id=b.ctx.organization_id, handle="x", title="smuggled")
            )
            session.flush()
    with pytest.raises(ProgrammingError, match="row-level security"):
        with session_scope(a.ctx, engine=app_engine) as session:
            session.add(
                Order(
                    organization_id=b.ctx.organization_id,
                    store_id=b.store_id,
                    platform="shopee",
                    platform_order_id="x",
                    ordered_at=datetime.now(UTC),
                )
            )
            session.flush()

    with session_scope(b.ctx, engine=app_engine) as session:
        titles = session.execute(sa.text("SELECT title FROM product")).scalars().all()
    assert "smuggled" not in titles


def test_updates_and_deletes_cannot_reach_another_organization(
    app_engine: Engine, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants

    with session_scope(a.ctx, engine=app_engine) as session:
        updated = session.execute(
            sa.text("UPDATE product SET title = 'hijacked' WHERE id = :id"), {"id": b.product_id}
        ).rowcount
        deleted = session.execute(
            sa.text("DELETE FROM sales_order WHERE id = :id"), {"id": b.order_id}
        ).rowcount
        with pytest.raises(ProgrammingError, match="row-level security"):
            with session.begin_nested():
                session.execute(
                    sa.text("UPDATE product SET organization_id = :b WHERE id = :id"),
                    {"b": b.ctx.organization_id, "id": a.product_id},
                )

    assert (updated, deleted) == (0, 0)
    with session_scope(b.ctx, engine=app_engine) as session:
        assert session.get(Product, b.product_id).title != "hijacked"  # type: ignore[union-attr]
        assert session.get(Order, b.order_id) is not None


def test_without_a_context_tenant_tables_look_empty(
    app_engine: Engine, tenants: tuple[Tenant, Tenant]
) -> None:
    with session_scope(engine=app_engine) as session:
        counts = {
            t: session.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("product", "sales_order", "channel_listing", "store", "organization")
        }

    assert counts == dict.fromkeys(counts, 0)


def test_context_does_not_leak_between_transactions_on_a_pooled_connection(
    pg: PgDatabase, tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    engine = make_engine(pg.app_url, pool_size=1)
    try:
        with session_scope(a.ctx, engine=engine) as session:
            assert session.execute(sa.text("SELECT count(*) FROM product")).scalar_one() >= 1
        with session_scope(engine=engine) as session:
            assert session.execute(sa.text("SELECT count(*) FROM product")).scalar_one() == 0
    finally:
        engine.dispose()


def test_a_user_sees_only_their_own_organizations_and_memberships(
    app_engine: Engine, tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants

    with session_scope(user_id=a.ctx.user_id, engine=app_engine) as session:
        orgs = set(session.execute(sa.text("SELECT id FROM organization")).scalars())
        members = set(session.execute(sa.text("SELECT user_id FROM membership")).scalars())

    assert orgs == {a.ctx.organization_id}
    assert members == {a.ctx.user_id}


def test_every_tenant_table_has_forced_rls_and_a_policy(pg: PgDatabase) -> None:
    engine = make_engine(pg.owner_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                    "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
                    "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
                    "WHERE c.relkind = 'r' AND a.attname = 'organization_id' "
                    "AND c.relnamespace = 'public'::regnamespace"
                )
            ).all()
    finally:
        engine.dispose()

    assert {r[0] for r in rows} == set(TENANT_TABLES)
    assert [r[0] for r in rows if not (r[1] and r[2] and r[3] >= 1)] == []


def _as_app(pg: PgDatabase, statement: str) -> None:
    engine = make_engine(pg.app_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
            conn.execute(sa.text("SELECT count(*) FROM product")).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("ALTER TABLE product DISABLE ROW LEVEL SECURITY", "must be owner"),
        ("ALTER TABLE product NO FORCE ROW LEVEL SECURITY", "must be owner"),
        ("DROP POLICY tenant_isolation ON product", "must be owner"),
        ("ALTER ROLE storesync_app BYPASSRLS", "must be superuser"),
        ("SET ROLE storesync_owner", "permission denied"),
        ("SET row_security = off", "would be affected by row-level security"),
    ],
)
def test_the_app_role_cannot_disable_rls(pg: PgDatabase, statement: str, error: str) -> None:
    with pytest.raises(DBAPIError, match=error):
        _as_app(pg, statement)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_ledgers_are_append_only_for_the_app_role(pg: PgDatabase, table: str) -> None:
    for statement in (f"UPDATE {table} SET created_at = now()", f"DELETE FROM {table}"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            _as_app(pg, statement)


def test_startup_check_refuses_owner_and_superuser_connections(pg: PgDatabase) -> None:
    app = make_engine(pg.app_url)
    owner = make_engine(pg.owner_url)
    admin = make_engine(pg.admin_url)
    try:
        assert_rls_enforced(app)
        with pytest.raises(UnsafeDatabaseRole, match="owns the tables"):
            assert_rls_enforced(owner)
        with pytest.raises(UnsafeDatabaseRole, match="superuser"):
            assert_rls_enforced(admin)
    finally:
        for engine in (app, owner, admin):
            engine.dispose()


def test_random_organization_context_sees_nothing(
    app_engine: Engine, tenants: tuple[Tenant, Tenant]
) -> None:
    with session_scope(organization_id=uuid.uuid4(), engine=app_engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM product")).scalar_one() == 0


def test_system_lookups_return_ids_only_and_names_stay_hidden(
    app_engine: Engine, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    with session_scope(a.ctx, engine=app_engine) as session:
        slug_b = session.execute(
            sa.text("SELECT slug FROM organization WHERE id = :b"), {"b": b.ctx.organization_id}
        ).first()
    with session_scope(engine=app_engine) as session:
        all_ids = tenancy.list_organization_ids(session)
        slug_a = session.execute(
            sa.text("SELECT storesync_organization_id(slug) FROM organization")
        ).all()

    assert slug_b is None
    assert slug_a == []
    assert {a.ctx.organization_id, b.ctx.organization_id} <= set(all_ids)


def test_find_organization_by_slug(pg: PgDatabase, tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = tenants
    owner = make_engine(pg.admin_url)
    try:
        with owner.connect() as conn:
            slug = conn.execute(
                sa.text("SELECT slug FROM organization WHERE id = :a"), {"a": a.ctx.organization_id}
            ).scalar_one()
    finally:
        owner.dispose()
    engine = make_engine(pg.app_url)
    try:
        with session_scope(engine=engine) as session:
            assert tenancy.find_organization_id(session, ref=slug) == a.ctx.organization_id
            with pytest.raises(AppError, match="not found"):
                tenancy.find_organization_id(session, ref="no-such-org")
    finally:
        engine.dispose()


def test_webhook_routing_finds_a_store_without_exposing_other_stores(
    app_engine: Engine, tenants: tuple[Tenant, Tenant]
) -> None:
    from storesync.channels import connections
    from storesync.channels.models import Store

    a, b = tenants
    with session_scope(b.ctx, engine=app_engine) as session:
        shop = session.get(Store, b.store_id).platform_store_id  # type: ignore[union-attr]
    with session_scope(engine=app_engine) as session:
        route = connections.route_store(session, platform="shopee", platform_store_id=shop)
        missing = connections.route_store(session, platform="tiktok", platform_store_id=shop)
        visible = session.execute(sa.text("SELECT count(*) FROM store")).scalar_one()
    with session_scope(a.ctx, engine=app_engine) as session:
        seen_by_a = set(session.execute(sa.text("SELECT id FROM store")).scalars())

    assert route == (b.store_id, b.ctx.organization_id)
    assert missing is None and visible == 0
    assert seen_by_a == {a.store_id}
