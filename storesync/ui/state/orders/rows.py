"""What the Orders page shows, built from service DTOs: inbox rows, the order detail, returns,
and the arrange-shipment form of each store (plain data: no Reflex state here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from storesync.channels.schemas import ShippingOptions
from storesync.fulfilment.documents import PickItem
from storesync.fulfilment.paperwork import recipient_lines
from storesync.fulfilment.schemas import OrderOutcome, ReturnDTO
from storesync.orders.schemas import OrderDetailDTO, OrderSummaryDTO
from storesync.ui.format import label, money, when

METHOD_LABELS = {"pickup": "Pickup", "dropoff": "Drop-off"}
RESOLVED = {"restock": "restocked", "write_off": "written off"}
CANCELLABLE = ("unpaid", "to_ship")


@dataclasses.dataclass
class Choice:
    """One option of a select: what the platform wants back, and what the merchant reads."""

    id: str = ""
    label: str = ""


@dataclasses.dataclass
class ArrangeGroup:
    """One store's orders in the arrange-shipment dialog, and how they are handed over."""

    store_id: str = ""
    store: str = ""
    platform: str = ""
    orders: str = ""  # their numbers, for the merchant to check
    count: int = 0
    carrier: str = ""
    methods: list[Choice] = dataclasses.field(default_factory=list)
    method: str = ""
    addresses: list[Choice] = dataclasses.field(default_factory=list)
    address_id: str = ""
    slots: list[Choice] = dataclasses.field(default_factory=list)  # of the chosen address
    slot_id: str = ""
    branches: list[Choice] = dataclasses.field(default_factory=list)
    branch_id: str = ""
    error: str = ""  # the platform's answer when it offered nothing


def items_brief(picks: Iterable[PickItem]) -> dict[str, str]:
    """Order id → its items in a few words ("KAOS-HITAM-S x2", "3 items · KAOS-HITAM-S +1")."""
    by_order: dict[str, dict[str, int]] = {}
    for pick in picks:
        skus = by_order.setdefault(pick.order_id, {})
        name = pick.sku or pick.title
        skus[name] = skus.get(name, 0) + pick.quantity
    brief = {}
    for order_id, skus in by_order.items():
        first, quantity = next(iter(skus.items()))
        units = sum(skus.values())
        brief[order_id] = (
            f"{first} x{quantity}"
            if len(skus) == 1
            else f"{units} items · {first} +{len(skus) - 1}"
        )
    return brief


def items_lines(picks: Iterable[PickItem], shown: int = 3) -> dict[str, str]:
    """Order id → its first lines, each SKU with its quantity ("A x2 · B x1 · +2 more"), for
    orders of more than one SKU (the brief names a single one already)."""
    by_order: dict[str, dict[str, int]] = {}
    for pick in picks:
        skus = by_order.setdefault(pick.order_id, {})
        name = pick.sku or pick.title
        skus[name] = skus.get(name, 0) + pick.quantity
    lines = {}
    for order_id, skus in by_order.items():
        if len(skus) < 2:
            continue
        first = [f"{sku} x{quantity}" for sku, quantity in list(skus.items())[:shown]]
        more = [f"+{len(skus) - shown} more"] if len(skus) > shown else []
        lines[order_id] = " · ".join([*first, *more])
    return lines


def order_row(
    order: OrderSummaryDTO | OrderDetailDTO, items: str = "", lines: str = ""
) -> dict[str, str]:
    return {
        "id": str(order.id),
        "store_id": str(order.store_id),
        "number": order.order_number or order.platform_order_id,
        "platform": order.platform,
        "customer": order.customer_name,
        "status": str(order.status),
        "status_label": label(str(order.status)),
        "stage": order.shipping_stage,
        "stage_label": label(order.shipping_stage),
        "total": money(order.total, order.currency),
        "ordered_at": when(order.ordered_at),
        "items": items,
        "lines": lines,
        "carrier": order.carrier,
        "tracking": order.tracking_number,
        "handover": METHOD_LABELS.get(order.handover_method, order.handover_method),
    }


def detail_row(order: OrderDetailDTO) -> dict[str, str]:
    return {
        **order_row(order),
        "package": order.package_id,
        "arranged_at": when(order.arranged_at),
        "label_printed_at": when(order.label_printed_at),
        "cancellable": "yes" if order.status in CANCELLABLE else "",
    }


def recipient(order: OrderDetailDTO) -> list[str]:
    """The recipient as the platform gives it (masked where it masks), one line each."""
    lines = recipient_lines(order.shipping_address, order.customer_name)
    country = order.shipping_address.get("country", "")
    return [*lines, country] if country else lines


def item_rows(order: OrderDetailDTO) -> list[dict[str, str]]:
    return [
        {
            "sku": item.sku,
            "title": item.title,
            "quantity": str(item.quantity),
            "price": money(item.unit_price, item.currency),
            "stock": label(str(item.stock_status)),
        }
        for item in order.items
    ]


def event_rows(order: OrderDetailDTO) -> list[dict[str, str]]:
    return [
        {
            "at": when(event.created_at),
            "change": (
                f"{label(event.from_status) or 'new'} → {label(event.to_status)}"
                if event.from_status != event.to_status
                else label(event.to_status)
            ),
            "source": event.source,
            "reason": event.reason,
        }
        for event in order.events
    ]


def return_row(found: ReturnDTO) -> dict[str, str]:
    decidable = found.state == "completed" and not found.resolution and not found.refund_only
    return {
        "id": str(found.id),
        "order_id": str(found.order_id),
        "number": found.order_number,
        "platform": found.platform,
        "return_number": found.platform_return_id,
        "state": found.state,
        "state_label": label(found.state),
        "reason": found.reason,
        "lines": ", ".join(
            f"{line.sku or line.platform_item_id} x{line.quantity}" for line in found.lines
        ),
        "refund": (
            money(found.refund_amount, found.currency) if found.refund_amount is not None else ""
        ),
        "resolution": RESOLVED.get(found.resolution, label(found.resolution)),
        "decidable": "yes" if decidable else "",
        "refund_only": "yes" if found.refund_only else "",
        "at": when(found.updated_at or found.created_at),
    }


def outcome_row(outcome: OrderOutcome | dict[str, Any], platform: str = "") -> dict[str, str]:
    """One order's result in a bulk action: its tracking number, or the platform's reason."""
    data = outcome.model_dump(mode="json") if isinstance(outcome, OrderOutcome) else outcome
    ok = bool(data.get("ok"))
    return {
        "order_id": str(data.get("order_id", "")),
        "number": str(data.get("order_number", "")),
        "platform": platform,
        "ok": "yes" if ok else "",
        "tracking": str(data.get("tracking_number") or ""),
        "message": "" if ok else str(data.get("error_message") or data.get("error_code") or ""),
    }


def arrange_group(
    store_id: str,
    store: str,
    platform: str,
    numbers: Sequence[str],
    options: ShippingOptions,
) -> tuple[ArrangeGroup, dict[str, list[Choice]]]:
    """The store's form, its first address and earliest slot chosen, and every address's slots
    (the form shows those of the chosen address)."""
    slots = {
        address.address_id: [Choice(slot.slot_id, slot.label) for slot in address.slots]
        for address in options.addresses
    }
    addresses = [Choice(a.address_id, a.label) for a in options.addresses]
    methods = [Choice(m, METHOD_LABELS.get(m, m)) for m in options.methods]
    offers_pickup = any(slots.values())
    method = "pickup" if "pickup" in options.methods and offers_pickup else ""
    method = method or next((m for m in options.methods if m != "pickup"), "")
    address_id = next((a for a, s in slots.items() if s), addresses[0].id if addresses else "")
    shown = slots.get(address_id, [])
    branches = [Choice(b.branch_id, b.label) for b in options.branches]
    group = ArrangeGroup(
        store_id=store_id,
        store=store,
        platform=platform,
        orders=", ".join(numbers),
        count=len(numbers),
        carrier=options.carrier,
        methods=methods,
        method=method,
        addresses=addresses,
        address_id=address_id,
        slots=shown,
        slot_id=shown[0].id if shown else "",
        branches=branches,
        branch_id=branches[0].id if branches else "",
    )
    return group, slots


def unavailable_group(
    store_id: str, store: str, platform: str, numbers: Sequence[str], error: str
) -> ArrangeGroup:
    return ArrangeGroup(
        store_id=store_id,
        store=store,
        platform=platform,
        orders=", ".join(numbers),
        count=len(numbers),
        error=error,
    )


def job_row(job_id: str, store: str, platform: str, count: int) -> dict[str, str]:
    return {
        "job_id": job_id,
        "store": store,
        "platform": platform,
        "status": "queued",
        "status_label": "queued",
        "done": "0",
        "total": str(count),
        "failed": "0",
        "percent": "0",
        "error": "",
    }
