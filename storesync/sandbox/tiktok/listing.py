"""Listing on the simulated TikTok Shop (Product API 202309): Create Product, Edit Product (full
replacement) and Partial Edit Product, each checked as a whole before the state is touched, so
a refused call changes nothing. The rules and codes are in `catalog` and
docs/marketplaces/tiktok-publishing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from storesync.sandbox import catalog as taxonomy
from storesync.sandbox.state import Item, Model, SandboxError, SandboxState, Shop
from storesync.sandbox.tiktok.catalog import (
    ATTRIBUTE_MISSING,
    ATTRIBUTE_VALUE_REFUSED,
    CATEGORY_REFUSED,
    CURRENCY_REFUSED,
    DESCRIPTION_REFUSED,
    DIMENSIONS_REFUSED,
    IMAGES_REFUSED,
    LIMITS,
    NUMERIC_ATTRIBUTES,
    NUMERIC_FORMAT,
    PRICE_REFUSED,
    SALES_ATTRIBUTES,
    SALES_ATTRIBUTES_REFUSED,
    SELLER_SKU_REFUSED,
    SKUS_REFUSED,
    STOCK_REFUSED,
    TITLE_REFUSED,
    WAREHOUSE_ID,
    WAREHOUSE_REFUSED,
    WEIGHT_REFUSED,
    leaf,
    refuse,
    sales_attribute_id,
    sales_value_id,
)
from storesync.sandbox.tiktok.wire import Call, invalid

MAX_SALES_ATTRIBUTES, SALES_NAME_MAX, SALES_VALUE_MAX, SELLER_SKU_MAX = 3, 20, 50, 50
IMPERIAL_REGIONS = frozenset({"US"})  # POUND and INCH are documented for US shops only
GRAMS = {"KILOGRAM": Decimal(1000), "POUND": Decimal("453.59237")}
CENTIMETRES = {"CENTIMETER": Decimal(1), "INCH": Decimal("2.54")}
PARTIAL_FIELDS = (
    "title",
    "description",
    "main_images",
    "product_attributes",
    "package_weight",
    "package_dimensions",
)


# -- create, edit, partial edit ----------------------------------------------------------------


@dataclass
class _Sku:
    id: str  # "" for a new SKU
    seller_sku: str
    options: list[tuple[str, str]]
    price: Decimal
    stock: int
    warehouse_id: str


def create_product(call: Call) -> dict[str, Any]:
    state, shop = call.state, call.the_shop()
    content, skus = _listing(state, shop, call.json())
    now = state.now()
    item = Item(
        id=state.new_id("tiktok"),
        title=content.pop("title"),
        status="ACTIVATE",  # TikTok audits (PENDING) first; the sandbox approves at once
        has_models=True,
        models=[_model(state, sku, None) for sku in skus],
        images=content.pop("images"),
        create_time=now,
        update_time=now,
        **content,
    )
    state.add_item("tiktok", shop.id, item)
    return {"product_id": item.id, "skus": _sku_answers(item), "warnings": []}


def edit_product(call: Call) -> dict[str, Any]:
    """Full replacement: SKUs are matched by `id` when given, else by `seller_sku`; the others
    are new, and the product's SKUs left out are deleted."""
    state, shop, item = call.state, call.the_shop(), _product(call)
    content, skus = _listing(state, shop, call.json())
    by_id = {m.id: m for m in item.models}
    by_seller_sku = {m.sku: m for m in item.models if m.sku}
    olds: list[Model | None] = []
    for i, sku in enumerate(skus):
        old = by_id.get(sku.id) if sku.id else by_seller_sku.get(sku.seller_sku)
        if sku.id and old is None:
            raise refuse(
                SKUS_REFUSED, f"skus[{i}].id {sku.id} does not belong to product {item.id}"
            )
        twin = next((j for j, seen in enumerate(olds) if old is not None and seen is old), None)
        if twin is not None:
            raise refuse(SKUS_REFUSED, f"skus[{i}] is the same SKU as skus[{twin}]")
        olds.append(old)
    item.models = [_model(state, sku, old) for sku, old in zip(skus, olds, strict=True)]
    _apply(state, item, content)
    for model, sku, old in zip(item.models, skus, olds, strict=True):
        if old is not None:  # through the state, so a stock change is announced
            state.set_stock("tiktok", shop.id, item.id, model.id, sku.stock)
    return {"product_id": item.id, "skus": _sku_answers(item), "warnings": []}


def partial_edit_product(call: Call) -> dict[str, Any]:
    state, shop, item = call.state, call.the_shop(), _product(call)
    body = call.json()
    unknown = sorted(set(body) - set(PARTIAL_FIELDS))
    if unknown:
        raise invalid(f"{unknown[0]} cannot be changed by partial_edit in the sandbox")
    if not body:
        raise invalid(f"partial_edit needs at least one of {', '.join(PARTIAL_FIELDS)}")
    content: dict[str, Any] = {}
    if "title" in body:
        content["title"] = _title(body.get("title"))
    if "description" in body:
        content["description"] = _description(body.get("description"))
    if "main_images" in body:
        content["images"] = _images(state, body.get("main_images"))
    if "product_attributes" in body:
        if not item.category_id:
            raise refuse(
                CATEGORY_REFUSED,
                "category_id: the product has no category to check "
                "product_attributes against; edit the whole product first",
            )
        content["attributes"] = _attributes(item.category_id, body.get("product_attributes"))
    if "package_weight" in body:
        content["weight_grams"] = _weight(shop, body.get("package_weight"))[0]
    if "package_dimensions" in body:
        content["dimensions_cm"] = _dimensions(shop, body.get("package_dimensions"))[0]
    _apply(state, item, content)
    return {"product_id": item.id}


def _product(call: Call) -> Item:
    product_id = str(call.request.path_params["product_id"])
    item = call.the_shop().items.get(product_id)
    if item is None:
        raise invalid(f"product {product_id} does not exist in this shop")
    return item


def _apply(state: SandboxState, item: Item, content: dict[str, Any]) -> None:
    for name, value in content.items():
        setattr(item, name, value)
    item.update_time = state.now()


def _model(state: SandboxState, sku: _Sku, old: Model | None) -> Model:
    return Model(
        id=old.id if old else state.new_id("tiktok"),
        sku=sku.seller_sku,
        name=", ".join(value for _name, value in sku.options),
        price=sku.price,
        stock=old.stock if old else sku.stock,
        warehouse_id=sku.warehouse_id,
        options=list(sku.options),
    )


def _sku_answers(item: Item) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "seller_sku": m.sku,
            "sales_attributes": [
                {"id": sales_attribute_id(name), "value_id": sales_value_id(name, value)}
                for name, value in m.options
            ],
        }
        for m in item.models
    ]


# -- checking a listing ------------------------------------------------------------------------


def _listing(
    state: SandboxState, shop: Shop, body: dict[str, Any]
) -> tuple[dict[str, Any], list[_Sku]]:
    """The create / edit body checked as a whole: Item fields, and the SKUs."""
    category_id = body.get("category_id")
    if not isinstance(category_id, str) or not category_id:
        raise invalid("category_id is required and must be a string")
    category = leaf(category_id)
    if not isinstance(body.get("brand_id", ""), str):
        raise invalid("brand_id must be a string")
    if not isinstance(body.get("is_cod_allowed", False), bool):
        raise invalid("is_cod_allowed must be a boolean")
    content: dict[str, Any] = {
        "category_id": category.id,
        "title": _title(body.get("title")),
        "description": _description(body.get("description")),
        "images": _images(state, body.get("main_images")),
        "attributes": _attributes(category.id, body.get("product_attributes", [])),
    }
    grams, weight_unit = _weight(shop, body.get("package_weight"))
    dimensions, dimension_unit = _dimensions(shop, body.get("package_dimensions"))
    if (weight_unit == "KILOGRAM") != (dimension_unit == "CENTIMETER"):
        raise refuse(
            DIMENSIONS_REFUSED,
            "package_dimensions.unit: CENTIMETER goes with KILOGRAM and INCH with POUND",
        )
    content.update(weight_grams=grams, dimensions_cm=dimensions)
    return content, _skus(shop, body.get("skus"))


def _title(raw: Any) -> str:
    if not isinstance(raw, str):
        raise invalid("title is required and must be a string")
    if not LIMITS.title_min <= len(raw) <= LIMITS.title_max:
        raise refuse(
            TITLE_REFUSED,
            f"title must be {LIMITS.title_min} to {LIMITS.title_max} characters long, "
            f"got {len(raw)}",
        )
    return raw


def _description(raw: Any) -> str:
    if not isinstance(raw, str):
        raise invalid("description is required and must be a string (HTML allowed)")
    if len(raw) > LIMITS.description_max:
        raise refuse(
            DESCRIPTION_REFUSED,
            f"description: at most {LIMITS.description_max} characters, got {len(raw)}",
        )
    return raw


def _images(state: SandboxState, raw: Any) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise invalid("main_images is required: a list of {uri} objects")
    if not LIMITS.images_min <= len(raw) <= LIMITS.images_max:
        raise refuse(
            IMAGES_REFUSED,
            f"main_images: {LIMITS.images_min} to {LIMITS.images_max} images, got {len(raw)}",
        )
    urls = []
    for i, entry in enumerate(raw):
        uri = entry.get("uri")
        try:
            urls.append(state.image("tiktok", str(uri)).url)
        except SandboxError:
            raise refuse(
                IMAGES_REFUSED, f"main_images[{i}].uri {uri!r} was not uploaded (images/upload)"
            ) from None
    return urls


def _attributes(category_id: str, raw: Any) -> dict[str, list[str]]:
    """Attribute id → values (a value id, or the name of a free-text value)."""
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise invalid("product_attributes must be a list of {id, values} objects")
    given: dict[str, list[str]] = {}
    for i, entry in enumerate(raw):
        attribute_id, values = entry.get("id"), entry.get("values")
        if (
            not isinstance(attribute_id, str)
            or not isinstance(values, list)
            or attribute_id in given
        ):
            raise invalid(f"product_attributes[{i}] needs a new attribute id and a list of values")
        picked = [v.get("id") or v.get("name") for v in values if isinstance(v, dict)]
        if len(picked) != len(values) or not all(isinstance(p, str) and p for p in picked):
            raise invalid(f"product_attributes[{i}].values: each value needs an id or a name")
        given[attribute_id] = [
            str(p) for p in picked
        ]  # an id wins over a name when both are given (documented)
    bad = taxonomy.disallowed_value(category_id, given)
    if bad is not None:
        attribute, value = bad
        if not value:
            raise refuse(
                ATTRIBUTE_VALUE_REFUSED,
                f"product_attributes: attribute {attribute.id} does not belong to category "
                f"{category_id}",
            )
        names = ", ".join(name for _vid, name in attribute.values)
        raise refuse(
            ATTRIBUTE_VALUE_REFUSED,
            f"product_attributes: {value!r} is not an allowed value of {attribute.name} "
            f"({attribute.id}); allowed: {names}",
        )
    for attribute in taxonomy.attributes(category_id):
        _check_values(attribute, given.get(attribute.id, []))
    missing = taxonomy.missing_required(category_id, given)
    if missing:
        raise refuse(
            ATTRIBUTE_MISSING,
            f"product_attributes: the required attribute {missing[0].name} ({missing[0].id}) "
            "is missing",
        )
    return given


def _check_values(attribute: taxonomy.Attribute, values: list[str]) -> None:
    where = f"product_attributes: {attribute.name} ({attribute.id})"
    if len(values) > 1 and not attribute.multiple:
        raise refuse(ATTRIBUTE_VALUE_REFUSED, f"{where} takes one value, got {len(values)}")
    if attribute.id in NUMERIC_ATTRIBUTES and not all(_positive(_decimal(v)) for v in values):
        raise refuse(
            ATTRIBUTE_VALUE_REFUSED, f"{where} must be a positive number ({NUMERIC_FORMAT})"
        )


def _weight(shop: Shop, raw: Any) -> tuple[int, str]:
    """Grams, and the unit given."""
    if not isinstance(raw, dict) or raw.get("unit") not in GRAMS:
        raise invalid("package_weight is required: {value, unit KILOGRAM|POUND}")
    unit, value = raw["unit"], _decimal(raw.get("value"))
    if unit == "POUND" and shop.region not in IMPERIAL_REGIONS:
        raise refuse(WEIGHT_REFUSED, "package_weight.unit: only KILOGRAM outside the US")
    grams = 0
    if value is not None and value > 0:
        grams = int((value * GRAMS[unit]).to_integral_value(ROUND_HALF_UP))
    if not 1 <= grams <= LIMITS.weight_max_grams:
        raise refuse(
            WEIGHT_REFUSED,
            f"package_weight.value must be a positive decimal string of at most "
            f"{LIMITS.weight_max_grams // 1000} KILOGRAM, got {raw.get('value')!r}",
        )
    return grams, unit


def _dimensions(shop: Shop, raw: Any) -> tuple[tuple[int, int, int], str]:
    """(length, width, height) in whole centimetres, and the unit given."""
    if raw is None:
        raise refuse(
            DIMENSIONS_REFUSED,
            "package_dimensions is required in this category (rules: package_dimension)",
        )
    if not isinstance(raw, dict) or raw.get("unit") not in CENTIMETRES:
        raise invalid("package_dimensions: {length, width, height, unit CENTIMETER|INCH}")
    unit = raw["unit"]
    if unit == "INCH" and shop.region not in IMPERIAL_REGIONS:
        raise refuse(DIMENSIONS_REFUSED, "package_dimensions.unit: only CENTIMETER outside the US")
    sides = []
    for side in ("length", "width", "height"):
        value = raw.get(side)
        if not (isinstance(value, str) and value.isdigit() and int(value) > 0):
            raise refuse(
                DIMENSIONS_REFUSED,
                f"package_dimensions.{side} must be a positive whole number string, got {value!r}",
            )
        centimetres = Decimal(value) * CENTIMETRES[unit]
        sides.append(int(centimetres.to_integral_value(ROUND_HALF_UP)))
    return (sides[0], sides[1], sides[2]), unit


def _skus(shop: Shop, raw: Any) -> list[_Sku]:
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise invalid("skus is required: a list of objects")
    if not 1 <= len(raw) <= LIMITS.max_models:
        raise refuse(SKUS_REFUSED, f"skus: 1 to {LIMITS.max_models} SKUs, got {len(raw)}")
    skus = [_sku(shop, f"skus[{i}]", entry) for i, entry in enumerate(raw)]
    _check_variants(skus)
    return skus


def _sku(shop: Shop, where: str, raw: dict[str, Any]) -> _Sku:
    sku_id, seller_sku = raw.get("id", ""), raw.get("seller_sku", "")
    if not isinstance(sku_id, str) or not isinstance(seller_sku, str):
        raise invalid(f"{where}: id and seller_sku must be strings")
    if len(seller_sku) > SELLER_SKU_MAX:
        raise refuse(SELLER_SKU_REFUSED, f"{where}.seller_sku: at most {SELLER_SKU_MAX} characters")
    price = raw.get("price")
    if not isinstance(price, dict):
        raise invalid(f"{where}.price is required: {{amount, currency}}")
    if price.get("currency") != shop.currency:
        raise refuse(CURRENCY_REFUSED, f"{where}.price.currency must be {shop.currency}")
    amount = _decimal(price.get("amount"))
    if amount is None or not LIMITS.price_min <= amount <= LIMITS.price_max:
        raise refuse(
            PRICE_REFUSED,
            f"{where}.price.amount must be a decimal string from {LIMITS.price_min} to "
            f"{LIMITS.price_max}, got {price.get('amount')!r}",
        )
    stock, warehouse_id = _inventory(where, raw.get("inventory"))
    options = _sales_attributes(where, raw.get("sales_attributes", []))
    return _Sku(sku_id, seller_sku, options, amount, stock, warehouse_id)


def _inventory(where: str, raw: Any) -> tuple[int, str]:
    """The SKU's stock and warehouse (the shop has one sales warehouse; an entry without
    `warehouse_id` is stocked there)."""
    if not isinstance(raw, list) or not raw or not all(isinstance(e, dict) for e in raw):
        raise invalid(f"{where}.inventory is required: a list of {{warehouse_id, quantity}}")
    if len(raw) > 1:
        raise refuse(WAREHOUSE_REFUSED, f"{where}.inventory: the shop has one sales warehouse")
    warehouse, quantity = raw[0].get("warehouse_id", WAREHOUSE_ID), raw[0].get("quantity", 0)
    if warehouse != WAREHOUSE_ID:
        raise refuse(
            WAREHOUSE_REFUSED,
            f"{where}.inventory[0].warehouse_id {warehouse!r} is not a sales warehouse of the shop",
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise invalid(f"{where}.inventory[0].quantity must be an integer")
    if not LIMITS.stock_min <= quantity <= LIMITS.stock_max:
        raise refuse(
            STOCK_REFUSED,
            f"{where}.inventory[0].quantity must be from {LIMITS.stock_min} to "
            f"{LIMITS.stock_max}, got {quantity}",
        )
    return quantity, warehouse


def _sales_attributes(where: str, raw: Any) -> list[tuple[str, str]]:
    """(name, value) pairs; an `id` of a built-in attribute wins over `name` (documented), a
    name matching a built-in one is that attribute."""
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise invalid(f"{where}.sales_attributes must be a list of objects")
    if len(raw) > MAX_SALES_ATTRIBUTES:
        raise refuse(
            SALES_ATTRIBUTES_REFUSED,
            f"{where}.sales_attributes: at most {MAX_SALES_ATTRIBUTES}, got {len(raw)}",
        )
    builtin = {n.lower(): n for n in SALES_ATTRIBUTES.values()}
    options: list[tuple[str, str]] = []
    for k, entry in enumerate(raw):
        at = f"{where}.sales_attributes[{k}]"
        attribute_id, name, value = entry.get("id"), entry.get("name"), entry.get("value_name")
        if attribute_id is not None and attribute_id not in SALES_ATTRIBUTES:
            raise refuse(
                SALES_ATTRIBUTES_REFUSED,
                f"{at}.id {attribute_id!r} is not a sales attribute; name a custom one instead",
            )
        name = SALES_ATTRIBUTES[attribute_id] if attribute_id is not None else name
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= SALES_NAME_MAX:
            raise refuse(
                SALES_ATTRIBUTES_REFUSED, f"{at}.name must be 1 to {SALES_NAME_MAX} characters"
            )
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= SALES_VALUE_MAX:
            raise refuse(
                SALES_ATTRIBUTES_REFUSED,
                f"{at}.value_name must be 1 to {SALES_VALUE_MAX} characters",
            )
        name = builtin.get(name.strip().lower(), name.strip())
        if name.lower() in (n.lower() for n, _v in options):
            raise refuse(SALES_ATTRIBUTES_REFUSED, f"{at}.name {name} is given twice")
        options.append((name, value.strip()))
    return options


def _check_variants(skus: list[_Sku]) -> None:
    """Every SKU has the same sales attributes in the same order, each SKU its own values and
    its own seller SKU; a lone SKU may have none."""
    names = [tuple(name for name, _v in sku.options) for sku in skus]
    combos: dict[tuple[str, ...], int] = {}
    seller_skus: dict[str, int] = {}
    for i, sku in enumerate(skus):
        if len(skus) > 1 and not names[i]:
            raise refuse(
                SALES_ATTRIBUTES_REFUSED,
                f"skus[{i}].sales_attributes: a product with "
                "several SKUs needs sales attributes on each",
            )
        if names[i] != names[0]:
            raise refuse(
                SALES_ATTRIBUTES_REFUSED,
                f"skus[{i}].sales_attributes: every SKU takes {', '.join(names[0]) or 'none'} "
                f"in that order, got {', '.join(names[i]) or 'none'}",
            )
        combo = tuple(value.lower() for _n, value in sku.options)
        if combo in combos:
            values = ", ".join(value for _n, value in sku.options)
            raise refuse(
                SALES_ATTRIBUTES_REFUSED,
                f"skus[{i}].sales_attributes: {values} is already skus[{combos[combo]}]",
            )
        combos[combo] = i
        if sku.seller_sku in seller_skus:
            raise refuse(
                SELLER_SKU_REFUSED,
                f"skus[{i}].seller_sku {sku.seller_sku!r} is "
                f"already skus[{seller_skus[sku.seller_sku]}]",
            )
        if sku.seller_sku:
            seller_skus[sku.seller_sku] = i


def _decimal(raw: Any) -> Decimal | None:
    if not isinstance(raw, str):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _positive(value: Decimal | None) -> bool:
    return value is not None and value > 0
