"""The audit log: a person's change leaves exactly one row in its own transaction (a stock
adjustment, a role change, a store connected through the sandbox's OAuth), naming who, from
where, and the changed fields before and after; a rolled-back change and system work leave
none; the log reads newest first in keyset pages with filters; and on PostgreSQL one
organization never sees another's rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest.mock import ANY

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ProgrammingError
from sqlmodel import col, select

from storesync.catalog import importer
from storesync.catalog import service as catalog
from storesync.catalog.schemas import BulkUpdateItem, ProductUpdate, VariantUpdate
from storesync.core.clock import set_clock
from storesync.core.errors import AppError, PermissionDenied, ValidationFailed
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.notifications import webhooks
from storesync.orders import service as orders
from storesync.stores import allocation
from storesync.stores import service as stores
from storesync.sync.listings import service as listings
from storesync.tenancy import api_keys, members
from storesync.tenancy import service as tenancy
from storesync.tenancy.audit import queries as audit
from storesync.tenancy.audit.queries import ACTIONS, AuditEntryDTO, AuditFilter
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import AuditLog, Membership
from storesync.tenancy.permissions import Role
from tests.channels.conftest import consent, sandbox_settings
from tests.factories import make_tenant, token
from tests.sandbox.conftest import RunningSandbox, serve_sandbox

ADDRESS = "203.0.113.7"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """The marketplace sandbox over HTTP on 127.0.0.1 (fresh shop ids)."""
    with serve_sandbox(seed=11, products_per_shop=4) as running:
        yield running


@pytest.fixture(autouse=True)
def real_clock() -> Iterator[None]:
    yield
    set_clock(None)


def person(engine: Engine, role: Role = Role.OWNER) -> RequestContext:
    """A new organization's owner, acting as `role` from ADDRESS, as a signed-in browser's
    context names them."""
    email = f"owner-{token()}@example.com"
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(session, email=email, password="correct horse")
        org = tenancy.create_organization(session, name=f"Toko {token()}", owner_user_id=user.id)
    return RequestContext(user.id, org.id, role, actor=email, client_address=ADDRESS)


def api_key_context(engine: Engine, ctx: RequestContext, name: str = "ERP") -> RequestContext:
    """The context of a request made with a new key of the organization (made as the system)."""
    with session_scope(system(ctx), engine=engine) as session:
        made = api_keys.create_api_key(session, ctx=system(ctx), name=name, scopes=["write"])
    return RequestContext(
        None,
        ctx.organization_id,
        Role.ADMIN,
        api_key_id=made.key.id,
        actor=f"API key {name}",
        client_address="198.51.100.9",
    )


def system(ctx: RequestContext) -> RequestContext:
    return RequestContext.system(ctx.organization_id)


def a_variant(engine: Engine, ctx: RequestContext) -> tuple[uuid.UUID, uuid.UUID, str]:
    """A product with one variant and the default location, made as the system (no row)."""
    sku = f"SKU-{token()}".upper()
    with session_scope(system(ctx), engine=engine) as session:
        product = catalog.create_product(
            session, ctx=system(ctx), handle=f"kaos-{token()}", title="Kaos", sku=sku
        )
        location = inventory.default_location(session, ctx=system(ctx))
    return product.variants[0].id, location.id, sku


def a_member(engine: Engine, ctx: RequestContext, role: str) -> tuple[uuid.UUID, str]:
    """Another person in the organization, added as the system (no row)."""
    email = f"member-{token()}@example.com"
    with session_scope(system(ctx), engine=engine) as session:
        user = tenancy.create_user(session, email=email, password="member-pass-1")
        session.add(Membership(organization_id=ctx.organization_id, user_id=user.id, role=role))
    return user.id, email


def audit_rows(engine: Engine, ctx: RequestContext) -> list[AuditLog]:
    """Every audit row of the organization, oldest first (each one a documented action)."""
    with session_scope(ctx, engine=engine) as session:
        rows = list(
            session.exec(
                select(AuditLog)
                .where(AuditLog.organization_id == ctx.organization_id)
                .order_by(col(AuditLog.created_at), col(AuditLog.id))
            )
        )
        session.expunge_all()
    assert [r.action for r in rows if r.action not in ACTIONS] == []
    return rows


def adjust(engine: Engine, ctx: RequestContext, variant: uuid.UUID, where: uuid.UUID, by: int):
    with session_scope(ctx, engine=engine) as session:
        return inventory.adjust_stock(
            session, ctx=ctx, variant_id=variant, location_id=where, delta=by, reason="received"
        )


# -- one change, one row -------------------------------------------------------------------------


def test_a_stock_adjustment_leaves_one_row_naming_the_person_and_the_change(
    engine: Engine,
) -> None:
    ctx = person(engine)
    variant, where, sku = a_variant(engine, ctx)
    assert audit_rows(engine, ctx) == []

    adjust(engine, ctx, variant, where, 5)

    [row] = audit_rows(engine, ctx)
    assert (row.action, row.entity_type, row.actor, row.client_address) == (
        "stock.adjust",
        "stock",
        ctx.actor,
        ADDRESS,
    )
    assert (row.actor_user_id, row.actor_api_key_id) == (ctx.user_id, None)
    assert row.data == {
        "before": {"on_hand": 0},
        "after": {"on_hand": 5, "sku": sku, "location": "MAIN", "reason": "received"},
    }


def test_a_role_change_leaves_one_row_and_the_same_role_again_none(engine: Engine) -> None:
    ctx = person(engine)
    member_id, email = a_member(engine, ctx, "staff")

    for _ in range(2):
        with session_scope(ctx, engine=engine) as session:
            members.change_role(session, ctx=ctx, user_id=member_id, role="admin")

    [row] = audit_rows(engine, ctx)
    assert (row.action, row.entity_type, row.entity_id) == ("member.role", "member", str(member_id))
    assert (row.actor, row.actor_user_id, row.client_address) == (ctx.actor, ctx.user_id, ADDRESS)
    assert row.data == {"before": {"role": "staff"}, "after": {"role": "admin", "email": email}}


def test_connecting_a_store_through_oauth_leaves_one_store_connect_row(
    engine: Engine, sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(sandbox.base_url)
    ctx = person(engine)
    url = stores.connect_url(
        ctx, platform="shopee", callback_url="http://storesync.test/cb", state="s", settings=cfg
    )
    back = consent(url)

    with session_scope(ctx, engine=engine) as session:
        store = asyncio.run(
            stores.complete_connect(
                session,
                ctx=ctx,
                platform="shopee",
                code=back["code"],
                shop_id=back.get("shop_id"),
                settings=cfg,
            )
        )

    [row] = audit_rows(engine, ctx)
    assert (row.action, row.entity_type, row.entity_id) == ("store.connect", "store", str(store.id))
    assert (row.actor, row.actor_user_id, row.client_address) == (ctx.actor, ctx.user_id, ADDRESS)
    assert row.data == {
        "before": {},
        "after": {
            "status": "connected",
            "platform": "shopee",
            "platform_store_id": store.platform_store_id,
            "name": store.name,
        },
    }
    # A context that carries no email (an older callback) is still shown with the person's.
    with session_scope(ctx, engine=engine) as session:
        unnamed = replace(ctx, actor="")
        stores.disconnect(session, ctx=unnamed, store_id=store.id)
        shown = audit.list_entries(session, ctx=ctx).items
    assert [(e.action, e.actor) for e in shown] == [
        ("store.disconnect", ctx.actor),
        ("store.connect", ctx.actor),
    ]


# -- nothing logged ------------------------------------------------------------------------------


def test_a_change_whose_transaction_rolls_back_leaves_no_row(engine: Engine) -> None:
    ctx = person(engine)
    variant, where, _ = a_variant(engine, ctx)

    with pytest.raises(RuntimeError):
        with session_scope(ctx, engine=engine) as session:
            inventory.adjust_stock(
                session, ctx=ctx, variant_id=variant, location_id=where, delta=5, reason="x"
            )
            raise RuntimeError("the caller failed after the change")
    with pytest.raises(AppError, match="below"):
        adjust(engine, ctx, variant, where, -1)

    assert audit_rows(engine, ctx) == []


def test_a_savepoint_rolled_back_takes_its_rows_and_keeps_the_others(engine: Engine) -> None:
    ctx = person(engine)
    variant, where, _ = a_variant(engine, ctx)

    with session_scope(ctx, engine=engine) as session:
        with pytest.raises(AppError):
            with session.begin_nested():
                inventory.adjust_stock(
                    session, ctx=ctx, variant_id=variant, location_id=where, delta=5, reason="a"
                )
                inventory.adjust_stock(
                    session, ctx=ctx, variant_id=variant, location_id=where, delta=-9, reason="b"
                )
        inventory.adjust_stock(
            session, ctx=ctx, variant_id=variant, location_id=where, delta=2, reason="c"
        )

    [row] = audit_rows(engine, ctx)
    assert row.data["after"]["reason"] == "c"
    assert (row.data["before"]["on_hand"], row.data["after"]["on_hand"]) == (0, 2)


def test_system_work_leaves_no_row(engine: Engine) -> None:
    ctx = person(engine)
    variant, where, _ = a_variant(engine, ctx)
    member_id, _ = a_member(engine, ctx, "viewer")

    adjust(engine, system(ctx), variant, where, 7)
    with session_scope(system(ctx), engine=engine) as session:
        members.change_role(session, ctx=system(ctx), user_id=member_id, role="staff")
        tenancy.update_organization(
            session, ctx=system(ctx), name="Renamed by a worker", timezone="Asia/Jakarta"
        )

    assert audit_rows(engine, ctx) == []


def test_an_organization_setting_change_keeps_only_what_changed(engine: Engine) -> None:
    ctx = person(engine)
    with session_scope(ctx, engine=engine) as session:
        name = tenancy.get_organization(session, ctx=ctx).name
        tenancy.update_organization(session, ctx=ctx, name=name, timezone="Asia/Makassar")
        tenancy.update_organization(session, ctx=ctx, name=name, timezone="Asia/Makassar")

    [row] = audit_rows(engine, ctx)
    assert row.action == "organization.update"
    assert row.data == {
        "before": {"timezone": "Asia/Jakarta"},
        "after": {"timezone": "Asia/Makassar"},
    }


# -- reading: filters and pages ------------------------------------------------------------------

JAKARTA_DAY = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 2026-03-02 00:00 in Jakarta (+07)


def write_log(engine: Engine, entries: list[tuple[datetime, RequestContext, str, str]]) -> None:
    """Audit rows at given moments: (when, who, action, entity id) on orders."""
    for at, who, action, entity_id in entries:
        set_clock(lambda at=at: at)
        with session_scope(who, engine=engine) as session:
            record(
                session,
                ctx=who,
                action=action,
                entity_type="stock" if action.startswith("stock.") else "order",
                entity_id=entity_id,
                after={"at": at.isoformat()},
            )
    set_clock(None)


@pytest.fixture
def logged(engine: Engine) -> tuple[RequestContext, list[AuditEntryDTO]]:
    """An organization (Asia/Jakarta) with seven entries over two local days, two of them at
    the same instant; all of them, newest first."""
    ctx = person(engine)
    key = api_key_context(engine, ctx)
    write_log(
        engine,
        [
            (JAKARTA_DAY - timedelta(hours=2), ctx, "order.cancel", "A"),  # 1 March, 22:00
            (JAKARTA_DAY - timedelta(minutes=1), key, "order.status", "B"),  # 1 March, 23:59
            (JAKARTA_DAY, ctx, "stock.adjust", "C"),  # 2 March, 00:00
            (JAKARTA_DAY, key, "stock.count", "C"),
            (JAKARTA_DAY + timedelta(hours=3), ctx, "order.ship", "A"),
            (JAKARTA_DAY + timedelta(hours=20), key, "stock.adjust", "D"),
            (JAKARTA_DAY + timedelta(days=1), ctx, "order.status", "E"),  # 3 March, 00:00
        ],
    )
    with session_scope(ctx, engine=engine) as session:
        everything = audit.list_entries(session, ctx=ctx, limit=200).items
    return ctx, everything


def found(engine: Engine, ctx: RequestContext, **filters: str) -> list[str]:
    """The entity ids and actions of the entries these filters find, newest first."""
    with session_scope(ctx, engine=engine) as session:
        where = audit.audit_filter(session, ctx=ctx, **filters)
        page = audit.list_entries(session, ctx=ctx, where=where, limit=200)
    return [f"{e.entity_id}:{e.action}" for e in page.items]


def test_entries_read_newest_first_in_keyset_pages(
    engine: Engine, logged: tuple[RequestContext, list[AuditEntryDTO]]
) -> None:
    ctx, everything = logged
    assert len(everything) == 7
    keys = [(e.created_at, e.id) for e in everything]
    assert keys == sorted(keys, reverse=True)

    seen: list[uuid.UUID] = []
    cursor = None
    with session_scope(ctx, engine=engine) as session:
        while True:
            page = audit.list_entries(session, ctx=ctx, limit=3, cursor=cursor)
            seen += [e.id for e in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == [e.id for e in everything]
    assert [len(seen[i : i + 3]) for i in range(0, 7, 3)] == [3, 3, 1]
    with pytest.raises(ValidationFailed, match="cursor"):
        with session_scope(ctx, engine=engine) as session:
            audit.list_entries(session, ctx=ctx, cursor="not-a-cursor")


def in_log_order(everything: list[AuditEntryDTO], *labels: str) -> list[str]:
    """`labels` ("<entity id>:<action>") in the log's order (newest first, ties by id)."""
    return [label for e in everything if (label := f"{e.entity_id}:{e.action}") in labels]


def test_filters_by_actor_action_entity_and_local_dates(
    engine: Engine, logged: tuple[RequestContext, list[AuditEntryDTO]]
) -> None:
    ctx, everything = logged

    def expect(*labels: str) -> list[str]:
        return in_log_order(everything, *labels)

    by_key = expect("D:stock.adjust", "C:stock.count", "B:order.status")
    assert found(engine, ctx, actor="api KEY erp") == by_key
    by_person = expect("E:order.status", "A:order.ship", "C:stock.adjust", "A:order.cancel")
    assert found(engine, ctx, actor=ctx.actor.split("@")[0].upper()) == by_person
    assert found(engine, ctx, entity_type="order", entity_id="A") == expect(
        "A:order.ship", "A:order.cancel"
    )
    assert found(engine, ctx, entity_type="stock", entity_id="A") == []
    stock = expect("D:stock.adjust", "C:stock.count", "C:stock.adjust")
    assert found(engine, ctx, action="stock") == stock
    assert found(engine, ctx, action="stock.") == stock
    assert found(engine, ctx, action="stock.adjust") == expect("D:stock.adjust", "C:stock.adjust")
    # Days are the organization's (Asia/Jakarta): 2 March is 1 March 17:00 to 2 March 17:00 UTC.
    day = expect("D:stock.adjust", "A:order.ship", "C:stock.count", "C:stock.adjust")
    assert found(engine, ctx, date_from="2026-03-02", date_to="2026-03-02") == day
    assert found(engine, ctx, date_to="2026-03-01") == expect("B:order.status", "A:order.cancel")
    # Datetimes: with an offset as given, without one in the organization's zone; `to` exclusive.
    opening = expect("C:stock.count", "C:stock.adjust")  # A:order.ship is at 20:00 UTC
    utc = {"date_from": "2026-03-01T17:00Z", "date_to": "2026-03-01T20:00:00+00:00"}
    assert found(engine, ctx, **utc) == opening
    assert found(engine, ctx, date_from="2026-03-02T00:00", date_to="2026-03-02T03:00") == opening
    assert found(engine, ctx, date_from="2026-03-03T00:00") == expect("E:order.status")
    assert found(engine, ctx, actor="nobody") == []


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"date_from": "yesterday"}, "from"),
        ({"date_to": "2026-02-30"}, "to"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "to"),
        ({"actor": "x" * 201}, "actor"),
    ],
)
def test_bad_filters_name_the_parameter(
    sqlite_engine: Engine, filters: dict[str, str], field: str
) -> None:
    ctx = person(sqlite_engine)
    with pytest.raises(ValidationFailed) as raised:
        with session_scope(ctx, engine=sqlite_engine) as session:
            audit.audit_filter(session, ctx=ctx, **filters)
    assert raised.value.details["field"] == field


@pytest.mark.parametrize("role", [Role.STAFF, Role.VIEWER])
def test_only_owners_and_admins_read_the_log(sqlite_engine: Engine, role: Role) -> None:
    ctx = person(sqlite_engine)
    with session_scope(ctx, engine=sqlite_engine) as session:
        audit.list_entries(session, ctx=replace(ctx, role=Role.ADMIN))
        with pytest.raises(PermissionDenied):
            audit.list_entries(session, ctx=replace(ctx, role=role))
        with pytest.raises(PermissionDenied):
            next(audit.export_rows(session, ctx=replace(ctx, role=role)))


def test_the_csv_export_has_every_entry_in_local_time(
    engine: Engine, logged: tuple[RequestContext, list[AuditEntryDTO]]
) -> None:
    ctx, everything = logged
    with session_scope(ctx, engine=engine) as session:
        chunks = list(audit.export_rows(session, ctx=ctx, where=AuditFilter(), batch=2))
    text = "".join(chunks)
    assert text.startswith("\ufeff" + ",".join(audit.COLUMNS) + "\n")
    lines = text.removeprefix("\ufeff").splitlines()[1:]
    assert len(chunks) == 1 + 4 and len(lines) == len(everything)
    assert lines[0].startswith("2026-03-03T00:00:00+07:00,")
    assert [line.split(",")[4] for line in lines] == [e.entity_id for e in everything]


# -- isolation (PostgreSQL row-level security) ---------------------------------------------------


@pytest.mark.postgres
def test_another_organizations_rows_are_invisible(app_engine: Engine) -> None:
    mine, theirs = person(app_engine), person(app_engine)
    write_log(
        app_engine,
        [(JAKARTA_DAY, mine, "order.cancel", "MINE"), (JAKARTA_DAY, theirs, "order.cancel", "X")],
    )

    with session_scope(mine, engine=app_engine) as session:
        listed = audit.list_entries(session, ctx=mine).items
        raw = session.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE organization_id = :o"),
            {"o": theirs.organization_id},
        ).scalar_one()
        exported = "".join(audit.export_rows(session, ctx=mine))
    assert [e.entity_id for e in listed] == ["MINE"] and raw == 0
    assert "X" not in exported.splitlines()[-1].split(",")[4]

    with pytest.raises(ProgrammingError, match="row-level security"):
        with session_scope(mine, engine=app_engine) as session:
            record(session, ctx=theirs, action="order.cancel", entity_type="order")
            session.flush()


# -- every kind of change ------------------------------------------------------------------------


def test_each_service_a_person_calls_logs_its_change_once(sqlite_engine: Engine) -> None:
    tenant = make_tenant(sqlite_engine)
    ctx = replace(tenant.ctx, actor="owner@example.com", client_address=ADDRESS)
    csv_file = ["handle,sku,title,price", f"mug-{token()},MUG-{token()},Mug,25000"]
    with session_scope(ctx, engine=sqlite_engine) as session:
        sku = catalog.get_product(session, ctx=ctx, product_id=tenant.product_id).variants[0]
        catalog.update_product(
            session, ctx=ctx, product_id=tenant.product_id, changes=ProductUpdate(title="Polos")
        )
        catalog.update_variant(
            session, ctx=ctx, variant_id=sku.id, changes=VariantUpdate(price=Decimal("61000"))
        )
        catalog.bulk_update(
            session, ctx=ctx, items=[BulkUpdateItem(sku=sku.sku, price=Decimal("62000"))]
        )
        importer.import_catalog(session, ctx=ctx, source=csv_file, reference_id="upload-1")
        orders.change_status(
            session, ctx=ctx, order_id=tenant.order_id, to_status="cancelled", reason="asked"
        )
        allocation.set_allocation(
            session, ctx=ctx, store_id=tenant.store_id, share_percent="50", buffer="2"
        )
        unlinked = listings.unlink_listing(session, ctx=ctx, listing_id=tenant.listing_id)
        key = api_keys.create_api_key(session, ctx=ctx, name="ERP", scopes=["read"])
        api_keys.revoke_api_key(session, ctx=ctx, key_id=key.key.id)
        hook = webhooks.create_subscription(
            session, ctx=ctx, url="https://example.com/hook", events=["order.created"]
        )
        webhooks.delete_subscription(session, ctx=ctx, subscription_id=hook.subscription.id)
        catalog.delete_product(session, ctx=ctx, product_id=tenant.product_id)

    rows = audit_rows(sqlite_engine, ctx)
    assert [r.action for r in rows] == [
        "product.update",
        "variant.update",
        "variant.update",
        "catalog.import",
        "order.cancel",
        "store.allocation",
        "listing.unlink",
        "api_key.create",
        "api_key.revoke",
        "webhook.create",
        "webhook.delete",
        "product.delete",
    ]
    assert {(r.actor, r.client_address) for r in rows} == {("owner@example.com", ADDRESS)}
    by_action = {r.action: r.data for r in rows}
    assert by_action["product.update"] == {"before": {"title": "Kaos"}, "after": {"title": "Polos"}}
    assert [r.data for r in rows if r.action == "variant.update"] == [
        {"before": {"price": "59000"}, "after": {"price": "61000"}},
        {"before": {"price": "61000"}, "after": {"sku": sku.sku, "price": "62000"}},
    ]
    assert by_action["catalog.import"]["after"]["products_created"] == 1
    assert by_action["order.cancel"] == {
        "before": {"status": "unpaid"},
        "after": {"status": "cancelled", "order": ANY, "reason": "asked"},
    }
    assert by_action["store.allocation"] == {
        "before": {"share_percent": "100", "buffer": 0},
        "after": {"share_percent": "50", "buffer": 2},
    }
    assert by_action["listing.unlink"]["after"] == {
        "match_status": unlinked.match_status,
        "variant_sku": None,
    }
    assert by_action["product.delete"]["before"]["title"] == "Polos"
