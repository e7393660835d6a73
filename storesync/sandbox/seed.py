"""Seeded, realistic shops: an Indonesian fashion and home merchant selling on both platforms.

The same random seed gives the same world. A share of the catalog is listed on both platforms
with the same seller SKUs (as a real merchant lists it); the rest is on one platform only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from storesync.sandbox.state import PLATFORMS, App, Item, Model, Platform, SandboxState, Shop

_PRODUCTS = [
    (
        "Kaos Polos Cotton Combed 30s",
        "KAOS",
        ["S", "M", "L", "XL"],
        ["Hitam", "Putih", "Navy"],
        45_000,
    ),
    ("Kemeja Flanel Kotak Pria", "FLNL", ["M", "L", "XL"], ["Merah", "Hijau"], 129_000),
    ("Hijab Segi Empat Voal", "HJB", [], ["Mocca", "Dusty Pink", "Sage", "Hitam"], 35_000),
    ("Celana Chino Slim Fit", "CHN", ["28", "30", "32", "34"], ["Khaki", "Hitam"], 159_000),
    ("Sandal Jepit Karet", "SNDL", ["39", "40", "41", "42", "43"], [], 25_000),
    ("Tumbler Stainless 500ml", "TMBL", [], ["Silver", "Hitam", "Biru"], 89_000),
    ("Sprei Katun Jepang 160x200", "SPR", [], ["Abu", "Krem"], 210_000),
    ("Tas Ransel Laptop 15 inch", "TAS", [], [], 249_000),
    ("Masker Duckbill isi 50", "MSK", [], ["Putih", "Hitam"], 30_000),
    ("Jaket Hoodie Fleece", "HOOD", ["M", "L", "XL"], ["Abu", "Hitam", "Maroon"], 175_000),
    ("Piring Keramik Set 6", "PRG", [], [], 120_000),
    ("Kaus Kaki Ankle isi 3", "KKK", [], ["Campur"], 27_000),
]


@dataclass(frozen=True)
class SeedConfig:
    seed: int = 7
    shops_per_platform: int = 1
    products_per_shop: int = 24
    shared_ratio: float = 0.7  # share of a shop's products also listed on the other platform


def _catalog(rng: random.Random, count: int) -> list[tuple[str, str, list[tuple[str, str]], int]]:
    """`count` master products: (title, base sku, [(variant name, sku)], base price)."""
    products = []
    for index in range(count):
        title, code, sizes, colours, price = _PRODUCTS[index % len(_PRODUCTS)]
        series = index // len(_PRODUCTS)
        base_sku = f"{code}-{series:03d}" if series else code
        title = f"{title} Seri {series + 1}" if series else title
        options = [f"{c} {s}".strip() for c in (colours or [""]) for s in (sizes or [""])]
        variants = [
            (name, f"{base_sku}-{name.upper().replace(' ', '-')}" if name else base_sku)
            for name in options
        ]
        products.append((title, base_sku, variants, price + rng.randrange(0, 5) * 1_000))
    return products


def seed_state(state: SandboxState, config: SeedConfig | None = None) -> SandboxState:
    """Fill `state` with apps, shops and listings."""
    cfg = config or SeedConfig()
    rng = random.Random(cfg.seed)
    state.apps["shopee"] = App(
        "shopee", key=str(2_000_000 + rng.randrange(99_999)), secret=rng.randbytes(32).hex()
    )
    state.apps["tiktok"] = App(
        "tiktok",
        key=rng.randbytes(7).hex()[:13],
        secret=rng.randbytes(20).hex(),
        service_id=str(7_000_000_000_000_000_000 + rng.randrange(10**15)),
    )
    catalog = _catalog(rng, int(cfg.products_per_shop / max(cfg.shared_ratio, 0.01)) + 1)
    for number in range(cfg.shops_per_platform):
        picks = _split(rng, len(catalog), cfg.products_per_shop, cfg.shared_ratio)
        for platform, chosen in zip(PLATFORMS, picks, strict=True):
            shop = _shop(rng, platform, number)
            for index in chosen:
                item = _item(rng, platform, catalog[index], state.now())
                shop.items[item.id] = item
            state.shops[(platform, shop.id)] = shop
    return state


def _split(
    rng: random.Random, size: int, per_shop: int, shared: float
) -> tuple[list[int], list[int]]:
    indexes = list(range(size))
    rng.shuffle(indexes)
    common = int(per_shop * shared)
    only = per_shop - common
    both = indexes[:common]
    return both + indexes[common : common + only], both + indexes[common + only : common + 2 * only]


def _shop(rng: random.Random, platform: Platform, number: int) -> Shop:
    if platform == "shopee":
        return Shop(
            "shopee",
            str(14_700_000 + rng.randrange(99_999)),
            f"Toko Maju Shopee {number + 1}",
            "ID",
            "IDR",
        )
    shop_id = str(7_495_000_000_000_000_000 + rng.randrange(10**15))
    return Shop(
        "tiktok",
        shop_id,
        f"Toko Maju TikTok {number + 1}",
        "ID",
        "IDR",
        cipher=f"ROW_{rng.randbytes(16).hex()}",
    )


def _item(
    rng: random.Random,
    platform: Platform,
    product: tuple[str, str, list[tuple[str, str]], int],
    today: int,
) -> Item:
    title, base_sku, variants, price = product
    created = today - rng.randrange(86400, 200 * 86400)
    has_models = platform == "tiktok" or len(variants) > 1
    models = [
        Model(
            id=(
                str(rng.randrange(10**9, 10**10))
                if platform == "shopee"
                else str(rng.randrange(10**17, 10**18))
            )
            if has_models
            else "0",
            sku=sku,
            name=name,
            price=Decimal(price + rng.randrange(0, 3) * 500),
            stock=rng.randrange(0, 120),
            warehouse_id="7000714532876273" if platform == "tiktok" else "",
        )
        for name, sku in variants
    ]
    item_id = (
        str(rng.randrange(10**10, 10**11))
        if platform == "shopee"
        else str(rng.randrange(10**17, 10**18) + 1_729_000_000_000_000_000)
    )
    slug = base_sku.lower()
    return Item(
        id=item_id,
        title=title,
        status="NORMAL" if platform == "shopee" else "ACTIVATE",
        has_models=has_models,
        models=models,
        images=[f"https://cdn.sandbox.storesync.local/img/{slug}-{n}.jpg" for n in range(1, 4)],
        create_time=created,
        update_time=created,
        description=f"{title}. Bahan berkualitas, siap kirim dari Jakarta.",
    )
