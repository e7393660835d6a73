"""The Inventory page's stock table (inventory.queries.list_stock): one row per variant and
location with SKU, product title, location name and the stock figures; ordered by SKU; keyset
pages; search on SKU or title with % and _ taken literally; low stock only; one organization's
stock never shows in another's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.core.errors import ValidationFailed
from storesync.db import session_scope
from storesync.inventory import queries
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryItem
from storesync.inventory.queries import StockRowDTO
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.factories import token

# (sku, product title, location code, on_hand, reserved, reorder_point). SKUs sort the same in
# every collation. Decoys: "Kaos Hitam 1000" and AB100 match "100" (but not "100%"), EDX1
# matches "D_1" only if _ were a wildcard.
STOCK = [
    ("AB100", "Kaos Hitam 1000", "MAIN", 10, 2, 3),  # available 8: fine
    ("AB200", "Kaos Putih", "MAIN", 3, 1, 2),  # available 2 <= 2: low
    ("AB200", "Kaos Putih", "DEPAN", 5, 0, 4),  # available 5 > 4: fine
    ("CD_1", "Sandal 100% Kulit", "MAIN", 0, 0, 0),  # available 0 <= 0: low
    ("EDX1", "Topi", "MAIN", 9, 2, 7),  # available 7 <= 7: low
]
LOCATION_NAMES = {"MAIN": "Main warehouse", "DEPAN": "Toko Depan"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Warehouse:
    engine: Engine
    ctx: RequestContext
    rows: list[StockRowDTO]  # what list_stock should return, in its order

    def list(self, ctx: RequestContext | None = None, **options: object) -> queries.Page:
        acting = ctx or self.ctx
        with session_scope(acting, engine=self.engine) as session:
            return queries.list_stock(session, ctx=acting, **options)  # type: ignore[arg-type]

    def skus(self, **options: object) -> list[tuple[str, str]]:
        page = self.list(limit=200, **options)
        assert page.next_cursor is None
        return [(r.sku, r.location) for r in page.items]


def build_warehouse(engine: Engine, stock: list[tuple[str, str, str, int, int, int]]) -> Warehouse:
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"stock-{token()}@example.com", password="correct horse"
        )
        org = tenancy.create_organization(session, name="Gudang", owner_user_id=user.id)
    ctx = RequestContext(user.id, org.id, Role.OWNER)
    expected: list[StockRowDTO] = []
    with session_scope(ctx, engine=engine) as session:
        locations = {"MAIN": inventory.default_location(session, ctx=ctx).id}
        locations["DEPAN"] = inventory.create_location(
            session, ctx=ctx, code="DEPAN", name="Toko Depan"
        ).id
        variants: dict[str, uuid.UUID] = {}
        for sku, title, code, on_hand, reserved, reorder_point in stock:
            if sku not in variants:
                product = Product(organization_id=org.id, handle=f"h-{token()}", title=title)
                session.add(product)
                session.flush()
                variant = ProductVariant(
                    organization_id=org.id, product_id=product.id, variant_sku=sku
                )
                session.add(variant)
                session.flush()
                variants[sku] = variant.id
            item = InventoryItem(
                organization_id=org.id,
                variant_id=variants[sku],
                location_id=locations[code],
                on_hand=on_hand,
                reserved=reserved,
                reorder_point=reorder_point,
            )
            session.add(item)
            session.flush()
            expected.append(
                StockRowDTO(
                    inventory_item_id=item.id,
                    variant_id=variants[sku],
                    location_id=locations[code],
                    sku=sku,
                    title=title,
                    location=LOCATION_NAMES[code],
                    on_hand=on_hand,
                    reserved=reserved,
                    available=on_hand - reserved,
                    reorder_point=reorder_point,
                )
            )
        # A variant with no stock row at any location has no line in the table.
        bare = Product(organization_id=org.id, handle=f"h-{token()}", title="Kaos Tanpa Stok")
        session.add(bare)
        session.flush()
        session.add(ProductVariant(organization_id=org.id, product_id=bare.id, variant_sku="AB150"))
    expected.sort(key=lambda r: (r.sku, r.inventory_item_id))  # by SKU, then the row's id
    return Warehouse(engine, ctx, expected)


@pytest.fixture
def warehouse(engine: Engine) -> Warehouse:
    return build_warehouse(engine, STOCK)


def plain(rows: list[StockRowDTO]) -> list[tuple[object, ...]]:
    return [
        (r.sku, r.title, r.location, r.on_hand, r.reserved, r.available, r.reorder_point)
        for r in rows
    ]


def test_rows_carry_sku_title_location_and_stock_figures_ordered_by_sku(
    warehouse: Warehouse,
) -> None:
    viewer = RequestContext(warehouse.ctx.user_id, warehouse.ctx.organization_id, Role.VIEWER)

    page = warehouse.list(viewer)

    assert page.next_cursor is None
    rows = plain(page.items)
    assert rows[0] == ("AB100", "Kaos Hitam 1000", "Main warehouse", 10, 2, 8, 3)
    # One line per location of a SKU, the two in the order of their row ids.
    assert sorted(rows[1:3]) == [
        ("AB200", "Kaos Putih", "Main warehouse", 3, 1, 2, 2),
        ("AB200", "Kaos Putih", "Toko Depan", 5, 0, 5, 4),
    ]
    assert page.items[1].inventory_item_id < page.items[2].inventory_item_id
    assert rows[3:] == [
        ("CD_1", "Sandal 100% Kulit", "Main warehouse", 0, 0, 0, 0),
        ("EDX1", "Topi", "Main warehouse", 9, 2, 7, 7),
    ]
    # Ids too; and AB150 (a variant with no stock row) has no line.
    assert page.items == warehouse.rows


def test_keyset_pages_of_two_return_every_row_exactly_once(warehouse: Warehouse) -> None:
    pages = []
    cursor = None
    while True:
        page = warehouse.list(limit=2, cursor=cursor)
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert len(pages) < 10, "the cursor never ends"

    assert [len(p) for p in pages] == [2, 2, 1]
    # The first page ends between AB200's two rows: the cursor must carry the row id too.
    assert [r.sku for r in pages[0]] == ["AB100", "AB200"]
    assert [r.sku for r in pages[1]] == ["AB200", "CD_1"]
    flat = [r for p in pages for r in p]
    assert flat == warehouse.rows
    assert len({r.inventory_item_id for r in flat}) == 5


def test_a_page_exactly_as_long_as_what_is_left_has_no_next_cursor(warehouse: Warehouse) -> None:
    whole = warehouse.list(limit=5)
    first = warehouse.list(limit=4)
    rest = warehouse.list(limit=4, cursor=first.next_cursor)

    assert (len(whole.items), whole.next_cursor) == (5, None)
    assert len(first.items) == 4 and first.next_cursor is not None
    assert (rest.items, rest.next_cursor) == (warehouse.rows[4:], None)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("ab2", [("AB200", "Main warehouse"), ("AB200", "Toko Depan")]),  # SKU, any case
        ("  KAOS putih ", [("AB200", "Main warehouse"), ("AB200", "Toko Depan")]),  # title
        (
            "kaos",
            [("AB100", "Main warehouse"), ("AB200", "Main warehouse"), ("AB200", "Toko Depan")],
        ),
        ("100%", [("CD_1", "Main warehouse")]),  # not AB100 nor "Kaos Hitam 1000"
        ("d_1", [("CD_1", "Main warehouse")]),  # not EDX1
        ("%", [("CD_1", "Main warehouse")]),
        ("_", [("CD_1", "Main warehouse")]),
        ("tanpa stok", []),  # a variant without stock rows
        ("nothing-like-it", []),
    ],
)
def test_search_matches_sku_or_title_ignoring_case_with_wildcards_taken_literally(
    warehouse: Warehouse, search: str, expected: list[tuple[str, str]]
) -> None:
    found = warehouse.skus(search=search)

    assert sorted(found) == expected
    assert [s for s, _ in found] == sorted(s for s, _ in found)


@pytest.mark.parametrize("search", [None, "", "   "])
def test_no_search_lists_everything(warehouse: Warehouse, search: str | None) -> None:
    assert warehouse.list(search=search).items == warehouse.rows


def test_low_only_keeps_rows_at_or_below_their_reorder_point(warehouse: Warehouse) -> None:
    low = warehouse.list(low_only=True)
    low_pages = [warehouse.list(low_only=True, limit=2)]
    low_pages.append(warehouse.list(low_only=True, limit=2, cursor=low_pages[0].next_cursor))

    assert plain(low.items) == [
        ("AB200", "Kaos Putih", "Main warehouse", 3, 1, 2, 2),
        ("CD_1", "Sandal 100% Kulit", "Main warehouse", 0, 0, 0, 0),
        ("EDX1", "Topi", "Main warehouse", 9, 2, 7, 7),
    ]
    assert low.next_cursor is None
    assert [r for p in low_pages for r in p.items] == low.items
    assert low_pages[1].next_cursor is None
    # Combined with a search.
    assert plain(warehouse.list(low_only=True, search="kaos").items) == plain(low.items[:1])


def test_another_organizations_stock_never_appears(engine: Engine) -> None:
    mine = build_warehouse(engine, STOCK)
    # Same SKUs and titles, and every one of its rows low: written through its own context.
    theirs = build_warehouse(
        engine,
        [
            ("AB100", "Kaos Hitam 1000", "MAIN", 0, 0, 5),
            ("AB110", "Kaos Lain", "DEPAN", 1, 1, 5),
            ("CD_1", "Sandal 100% Kulit", "MAIN", 0, 0, 1),
        ],
    )
    their_ids = {r.inventory_item_id for r in theirs.rows}

    everything = mine.list()
    paged = [mine.list(limit=2)]
    while paged[-1].next_cursor:
        paged.append(mine.list(limit=2, cursor=paged[-1].next_cursor))

    assert everything.items == mine.rows
    assert [r for p in paged for r in p.items] == mine.rows
    assert [r.sku for r in mine.list(search="ab1").items] == ["AB100"]
    assert plain(mine.list(search="kaos", low_only=True).items) == [
        ("AB200", "Kaos Putih", "Main warehouse", 3, 1, 2, 2)
    ]
    assert [r.sku for r in mine.list(low_only=True).items] == ["AB200", "CD_1", "EDX1"]
    assert their_ids.isdisjoint(r.inventory_item_id for r in everything.items)
    # And theirs lists only theirs.
    assert theirs.list().items == theirs.rows
    assert [r.sku for r in theirs.list().items] == ["AB100", "AB110", "CD_1"]


def test_a_page_size_below_one_is_refused(warehouse: Warehouse) -> None:
    with pytest.raises(ValidationFailed) as raised:
        warehouse.list(limit=0)

    assert raised.value.details == {"field": "limit"}
