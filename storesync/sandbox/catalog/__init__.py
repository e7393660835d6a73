"""The sandbox's category tree, each leaf's attributes and the listing limits both simulators
enforce when a listing is created or edited.

One small taxonomy shared by both platforms (their wire modules render it in their own shapes):
enough to choose a category, fill a required attribute from the allowed values and be refused
for the same reasons the platforms refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Category:
    id: str
    parent_id: str  # "" at the root
    name: str
    leaf: bool


@dataclass(frozen=True)
class Attribute:
    id: str
    name: str
    required: bool
    values: tuple[tuple[str, str], ...] = ()  # (value id, name); empty: free text
    multiple: bool = False


@dataclass(frozen=True)
class Limits:
    """What a listing must respect (Shopee get_item_limit; TikTok's product rules)."""

    title_min: int
    title_max: int
    description_min: int
    description_max: int
    images_min: int
    images_max: int
    image_max_bytes: int
    price_min: Decimal
    price_max: Decimal
    stock_min: int
    stock_max: int
    max_models: int
    tier_name_max: int = 14  # Shopee tier variation name
    tier_option_max: int = 30  # Shopee tier option
    weight_max_grams: int = 50_000
    extra: dict[str, str] = field(default_factory=dict)


CATEGORIES: tuple[Category, ...] = (
    Category("100001", "", "Fashion", False),
    Category("100011", "100001", "Men Clothes", False),
    Category("100101", "100011", "T-Shirts", True),
    Category("100102", "100011", "Shirts", True),
    Category("100103", "100011", "Jackets & Hoodies", True),
    Category("100012", "100001", "Muslim Fashion", False),
    Category("100201", "100012", "Hijab", True),
    Category("100002", "", "Home & Living", False),
    Category("100021", "100002", "Kitchen & Dining", False),
    Category("100301", "100021", "Drinkware", True),
    Category("100302", "100021", "Tableware", True),
    Category("100022", "100002", "Bedding", True),
    Category("100003", "", "Bags", False),
    Category("100401", "100003", "Backpacks", True),
)

BRAND = Attribute(
    "100010",
    "Brand",
    True,
    (("0", "No Brand"), ("1001", "Erigo"), ("1002", "3Second"), ("1003", "Lock&Lock")),
)
MATERIAL = Attribute(
    "100020",
    "Material",
    True,
    (("2001", "Cotton"), ("2002", "Polyester"), ("2003", "Fleece"), ("2004", "Voal")),
)
BODY_MATERIAL = Attribute(
    "100021",
    "Body Material",
    True,
    (("2101", "Stainless Steel"), ("2102", "Ceramic"), ("2103", "Plastic")),
)
STYLE = Attribute("100030", "Style", False, multiple=True)
CAPACITY = Attribute("100040", "Capacity", False)
ORIGIN = Attribute("100050", "Country of Origin", False, (("3001", "Indonesia"), ("3002", "China")))

_CLOTHES = (BRAND, MATERIAL, STYLE, ORIGIN)
ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {
    "100101": _CLOTHES,
    "100102": _CLOTHES,
    "100103": _CLOTHES,
    "100201": _CLOTHES,
    "100301": (BRAND, BODY_MATERIAL, CAPACITY, ORIGIN),
    "100302": (BRAND, BODY_MATERIAL, ORIGIN),
    "100022": (BRAND, MATERIAL, ORIGIN),
    "100401": (BRAND, MATERIAL, STYLE, ORIGIN),
}

SHOPEE_LIMITS = Limits(
    title_min=10,
    title_max=120,
    description_min=20,
    description_max=3000,
    images_min=1,
    images_max=9,
    image_max_bytes=10 * 1024 * 1024,
    price_min=Decimal("100"),
    price_max=Decimal("150000000"),
    stock_min=0,
    stock_max=999_999,
    max_models=50,
)
TIKTOK_LIMITS = Limits(
    title_min=25,
    title_max=255,
    description_min=0,
    description_max=10_000,
    images_min=1,
    images_max=9,
    image_max_bytes=5 * 1024 * 1024,
    price_min=Decimal("100"),  # Indonesia: 100 to 100,000,000 IDR
    price_max=Decimal("100000000"),
    stock_min=0,
    stock_max=99_999,  # per warehouse, as Seller Center takes it (the inventory update's cap)
    max_models=300,  # outside the US and the UK (100 there)
)

# Shopee logistics channels every sandbox shop has enabled (id, name, max weight in grams).
LOGISTICS: tuple[tuple[str, str, int], ...] = (
    ("8003", "SPX Express", 50_000),
    ("8005", "J&T Express", 50_000),
    ("8002", "JNE Reguler", 30_000),
)


def category(category_id: str) -> Category | None:
    return next((c for c in CATEGORIES if c.id == str(category_id)), None)


def attributes(category_id: str) -> tuple[Attribute, ...]:
    return ATTRIBUTES.get(str(category_id), ())


def missing_required(category_id: str, given: dict[str, list[str]]) -> list[Attribute]:
    """Required attributes of the category with no value in `given` (attribute id → values)."""
    return [a for a in attributes(category_id) if a.required and not any(given.get(a.id, []))]


def disallowed_value(category_id: str, given: dict[str, list[str]]) -> tuple[Attribute, str] | None:
    """The first (attribute, value) whose value the category's list does not allow, or whose
    attribute the category does not have."""
    known = {a.id: a for a in attributes(category_id)}
    for attribute_id, values in given.items():
        attribute = known.get(attribute_id)
        if attribute is None:
            return Attribute(attribute_id, attribute_id, False), ""
        allowed = {vid for vid, _ in attribute.values} | {name for _, name in attribute.values}
        for value in values:
            if attribute.values and value not in allowed:
                return attribute, value
    return None
