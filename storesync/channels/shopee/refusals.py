"""Shopee's refusal of a publishing call (what `wire` classifies `rejected`) as the VALIDATION
`AppError` StoreSync shows: Shopee's own code and message, `details["platform_error"]` and,
when the code or the message tells, the draft field at fault in `details["field"]` (Shopee's
name for it in `details["platform_field"]`).
"""

from __future__ import annotations

from typing import Any

from storesync.core.errors import AppError, ErrorType

# The draft field a refusal is about: by Shopee's error code first, else by the first Shopee
# field name its message mentions. (Shopee field, draft field)
CODE_FIELDS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        (
            "error_item_name_empty",
            "error_nil_name_new_item",
            "error_item_name_is_too_short",
            "error_title_exceeds_max_length",
            "error_name_length_limit",
            "error_title_character_forbidden",
        ),
        ("item_name", "title"),
    ),
    "error_desc_length_min_limit": ("description", "description"),
    "error_image_num_min": ("image", "images"),
    "error_image_unavailable": ("image", "images"),
    "error_file_size": ("image", "images"),
    **dict.fromkeys(
        ("error_price_exceed_min_limitt", "error_price_exceed_max_limitt", "error_invalid_price"),
        ("original_price", "variants"),
    ),
    **dict.fromkeys(
        ("error_invalid_logistic_info", "error_invalid_price_for_logistic"),
        ("logistic_info", "logistics_ids"),
    ),
    **dict.fromkeys(
        (
            "error_less_required_attribute",
            "error_invalid_attribute",
            "error_invalid_attribute_value",
            "error_invalid_category_attribute",
            "error_value_name_required",
            "error_value_id_must_equal_zero",
            "error_wrong_attrsnapshot",
        ),
        ("attribute_list", "attributes"),
    ),
    **dict.fromkeys(
        ("error_invalid_category", "error_forbidden_category", "error_category_is_block"),
        ("category_id", "category_id"),
    ),
}
MESSAGE_FIELDS: tuple[tuple[str, str, str], ...] = (  # (text in the message, Shopee, draft)
    ("tier_index", "tier_index", "variants"),
    ("iter_index", "tier_index", "variants"),  # Shopee's own misspelling
    ("tier_variation", "tier_variation", "variants"),
    ("tier-variation", "tier_variation", "variants"),
    ("model", "model", "variants"),
    ("item_sku", "item_sku", "variants"),
    ("item_name", "item_name", "title"),
    ("description", "description", "description"),
    ("image", "image", "images"),
    ("price", "original_price", "variants"),
    ("stock", "seller_stock", "variants"),
    ("weight", "weight", "weight_grams"),
    ("dimension", "dimension", "package"),
    ("logistic", "logistic_info", "logistics_ids"),
    ("attribute", "attribute_list", "attributes"),
    ("category", "category_id", "category_id"),
)


def field_named(code: str, message: str) -> tuple[str, str] | None:
    """(Shopee field, draft field) a refusal is about, when its code or message tells."""
    if code in CODE_FIELDS:
        return CODE_FIELDS[code]
    text = message.lower()
    found = [(text.find(word), shopee, ours) for word, shopee, ours in MESSAGE_FIELDS]
    hits = sorted((at, shopee, ours) for at, shopee, ours in found if at >= 0)
    return (hits[0][1], hits[0][2]) if hits else None


def refused(body: dict[str, Any], error: AppError) -> AppError:
    """A Shopee refusal as VALIDATION with Shopee's code and message (the client's `Refusal`)."""
    code = str(body.get("error") or error.details.get("platform_error") or error.code)
    message = str(body.get("message") or error.message)
    details = {**error.details, "platform_error": code}
    named = field_named(code, message)
    if named is not None:
        details["platform_field"], details["field"] = named
    return AppError(ErrorType.VALIDATION, code, message, details=details, retryable=False)
