"""What a platform would refuse in a listing, found before any call: each problem names the
field (`title`, `images`, `attributes.Brand`, `variants.KAOS-M.price`, ...) as the form shows it.

Pure: given the draft, the category's rules and attributes, and the images' sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

from storesync.channels.schemas import CategoryDetail, ListingDraft
from storesync.core.schemas import DTO


class Problem(DTO):
    field: str
    message: str


def problems(
    draft: ListingDraft, detail: CategoryDetail, image_sizes: Sequence[int]
) -> list[Problem]:
    """Every rule of `detail` the draft breaks, in the form's order (empty: it may be sent)."""
    rules = detail.rules
    found: list[Problem] = []

    def add(field: str, message: str) -> None:
        found.append(Problem(field=field, message=message))

    title = draft.title.strip()
    if not rules.title_min <= len(title) <= rules.title_max:
        add(
            "title",
            f"must be {rules.title_min} to {rules.title_max} characters (it has {len(title)})",
        )
    if len(draft.description) > rules.description_max:
        add("description", f"must be at most {rules.description_max} characters")
    if not rules.images_min <= len(image_sizes) <= rules.images_max:
        add(
            "images",
            f"needs {rules.images_min} to {rules.images_max} images (the product has "
            f"{len(image_sizes)})",
        )
    for number, size in enumerate(image_sizes, start=1):
        if size > rules.image_max_bytes:
            limit = rules.image_max_bytes // (1024 * 1024)
            add("images", f"image {number} is {size / 1048576:.1f} MB; the limit is {limit} MB")
    given = {a.attribute_id: a for a in draft.attributes if any(v.name for v in a.values)}
    for attribute in detail.attributes:
        chosen = given.get(attribute.attribute_id)
        if chosen is None:
            if attribute.required:
                add(f"attributes.{attribute.name}", "is required in this category")
            continue
        if len(chosen.values) > 1 and not attribute.multiple:
            add(f"attributes.{attribute.name}", "takes one value")
        allowed = {v.value_id for v in attribute.values}
        for value in chosen.values:
            if attribute.values and value.value_id not in allowed:
                add(f"attributes.{attribute.name}", f"{value.name!r} is not one of its values")
    known = {a.attribute_id for a in detail.attributes}
    for attribute_id in sorted(set(given) - known):
        add(f"attributes.{attribute_id}", "is not an attribute of this category")
    if not draft.variants:
        add("variants", "the product has no active variants")
    if len(draft.variants) > rules.max_variants:
        add("variants", f"at most {rules.max_variants} variants on this channel")
    combos: set[tuple[tuple[str, str], ...]] = set()
    for variant in draft.variants:
        if not rules.price_min <= variant.price <= rules.price_max:
            add(
                f"variants.{variant.sku}.price",
                f"{variant.price} is outside {rules.price_min} to {rules.price_max}",
            )
        if not rules.stock_min <= variant.quantity <= rules.stock_max:
            add(f"variants.{variant.sku}.stock", f"must be {rules.stock_min} to {rules.stock_max}")
        combo = tuple(variant.options.items())
        if len(draft.variants) > 1 and combo in combos:
            add(f"variants.{variant.sku}.options", "two variants have the same options")
        combos.add(combo)
    if (rules.needs_package or rules.needs_logistics) and draft.weight_grams <= 0:
        add("weight_grams", "the package weight is needed")
    if rules.needs_package and min(draft.length_cm, draft.width_cm, draft.height_cm) <= 0:
        add("package", "the package length, width and height are needed")
    if rules.needs_logistics:
        enabled = {c.channel_id: c for c in detail.logistics}
        if not draft.logistics_ids:
            add("logistics_ids", "choose at least one logistics channel")
        for channel_id in draft.logistics_ids:
            channel = enabled.get(channel_id)
            if channel is None:
                add("logistics_ids", f"channel {channel_id} is not enabled for this shop")
            elif channel.max_weight_grams and draft.weight_grams > channel.max_weight_grams:
                add(
                    "weight_grams",
                    f"{channel.name} carries at most {channel.max_weight_grams} g",
                )
    return found
