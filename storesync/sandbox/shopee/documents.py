"""Shopee shipping documents (air waybills): get_shipping_document_parameter,
create_shipping_document, get_shipping_document_result and download_shipping_document.

The batch calls take `order_list` (1 to 50 orders) and answer per order in `result_list`, with
`fail_error`/`fail_message` for the orders that failed and those orders in `warning`; when every
order failed the whole call answers `common.batch_api_all_failed` with the result_list.

A created document is PROCESSING until it has been polled once (get_shipping_document_result)
or `READY_AFTER` seconds have passed on the sandbox clock, then READY; it is FAILED when the
order was cancelled meanwhile. Downloading answers the PDF itself (`application/pdf`), one page
per requested package, or an error JSON while any of them is not READY.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from storesync.sandbox.fulfilment.labels import LabelPage, render
from storesync.sandbox.shopee.logistics import pickup_address
from storesync.sandbox.shopee.order import CARRIER, package_number, recipient_address
from storesync.sandbox.shopee.wire import (
    Call,
    Endpoint,
    ShopeeError,
    as_list,
    param_error,
)
from storesync.sandbox.state import CANCELLED_STATUS, Order

MAX_ORDERS = 50
READY_AFTER = 3  # seconds on the sandbox clock
DOCUMENT_TYPES = (
    "NORMAL_AIR_WAYBILL",
    "THERMAL_AIR_WAYBILL",
    "NORMAL_JOB_AIR_WAYBILL",
    "THERMAL_JOB_AIR_WAYBILL",
    "THERMAL_UNPACKAGED_LABEL",
)
SELECTABLE = ("THERMAL_AIR_WAYBILL", "NORMAL_AIR_WAYBILL")
SUGGESTED = "THERMAL_AIR_WAYBILL"
PRINTABLE = frozenset({"PROCESSED", "SHIPPED", "TO_CONFIRM_RECEIVE", "COMPLETED"})
ALL_FAILED = ("common.batch_api_all_failed", "Failed, please check result_list for more details.")


@dataclass
class Task:
    document_type: str
    created: int
    polled: bool = False


@dataclass
class DocumentTasks:
    """The shipping-document tasks created so far, per shop, order and package."""

    tasks: dict[tuple[str, str, str], Task] = field(default_factory=dict)

    def status(self, call: Call, order: Order, key: tuple[str, str, str]) -> str:
        """READY / PROCESSING / FAILED of an existing task; a poll counts as one."""
        task = self.tasks[key]
        if order.status == CANCELLED_STATUS:
            return "FAILED"
        ready = task.polled or call.state.now() - task.created >= READY_AFTER
        return "READY" if ready else "PROCESSING"


class Failed(Exception):
    """One order of a batch failed (its fail_error and fail_message)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


@dataclass(frozen=True)
class Entry:
    order_sn: str
    package_number: str
    raw: dict[str, Any]


def _entries(call: Call) -> list[Entry]:
    """`order_list`, 1 to 50 objects with an order_sn each."""
    if "order_list" not in call.body or call.body["order_list"] is None:
        raise param_error("order_list is a required field")
    raw = as_list(call.body["order_list"], "order_list", 1, MAX_ORDERS)
    entries = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("order_sn"), str):
            raise param_error("order_sn is a required field")
        package = item.get("package_number")
        entries.append(Entry(item["order_sn"], package if isinstance(package, str) else "", item))
    return entries


def _order_of(call: Call, entry: Entry) -> Order:
    order = call.state.orders.get(("shopee", entry.order_sn))
    if order is None or order.shop_id != call.shop.id:
        raise Failed(
            "logistics.order_not_exist",
            f"The order_sn {entry.order_sn} you provided is not exist. Please check",
        )
    if entry.package_number and entry.package_number != package_number(order):
        raise Failed(
            "logistics.package_number_not_found",
            f"The package_number {entry.package_number} is not exist.",
        )
    return order


def _batch(
    call: Call, entries: list[Entry], one: Callable[[Entry], dict[str, Any]]
) -> dict[str, Any]:
    """Run `one(entry)` per order; failures go to result_list and warning."""
    results: list[dict[str, Any]] = []
    warning: list[dict[str, str]] = []
    for entry in entries:
        head = {"order_sn": entry.order_sn}
        if entry.package_number:
            head["package_number"] = entry.package_number
        try:
            results.append({**head, **one(entry)})
        except Failed as failed:
            results.append({**head, "fail_error": failed.error, "fail_message": failed.message})
            warning.append(head)
    if len(warning) == len(entries):
        raise ShopeeError(*ALL_FAILED, response={"result_list": results})
    call.warning = warning or None
    return {"result_list": results}


def _document_type(raw: Any, *, default: str) -> str:
    if raw in (None, ""):
        return default
    if raw not in DOCUMENT_TYPES or raw not in SELECTABLE:
        raise Failed(
            "logistics.shipping_document_type_invalid",
            "The shipping_document_type is not invalid. Please check the shipping_document_type.",
        )
    return str(raw)


def get_shipping_document_parameter(call: Call) -> dict[str, Any]:
    """The document types each order may print, and the one Shopee suggests."""

    def one(entry: Entry) -> dict[str, Any]:
        order = _order_of(call, entry)
        return {
            "package_number": package_number(order),
            "suggest_shipping_document_type": SUGGESTED,
            "selectable_shipping_document_type": list(SELECTABLE),
        }

    return _batch(call, _entries(call), one)


def create_shipping_document(call: Call, documents: DocumentTasks) -> dict[str, Any]:
    """A document task per order, only once shipment is arranged (and, when given, for
    the order's own tracking number)."""

    def one(entry: Entry) -> dict[str, Any]:
        order = _order_of(call, entry)
        if order.status == CANCELLED_STATUS:
            raise Failed(
                "logistics.order_status_error", "Order status does not support awb printing."
            )
        if order.status not in PRINTABLE or not order.tracking_number:
            raise Failed("logistics.package_can_not_print", "The package can not print now.")
        tracking = entry.raw.get("tracking_number")
        if tracking not in (None, "") and tracking != order.tracking_number:
            raise Failed(
                "logistics.tracking_number_invalid",
                "The tracking number is invalid. Please check the tracking number.",
            )
        kind = _document_type(entry.raw.get("shipping_document_type"), default=SUGGESTED)
        key = (call.shop.id, order.id, package_number(order))
        documents.tasks[key] = Task(kind, call.state.now())
        return {"package_number": package_number(order)}

    return _batch(call, _entries(call), one)


def get_shipping_document_result(call: Call, documents: DocumentTasks) -> dict[str, Any]:
    """Each created document's status; the first poll of a fresh one says PROCESSING."""

    def one(entry: Entry) -> dict[str, Any]:
        order = _order_of(call, entry)
        key = (call.shop.id, order.id, package_number(order))
        task = documents.tasks.get(key)
        wanted = entry.raw.get("shipping_document_type")
        if task is None or wanted not in (None, "", task.document_type):
            raise Failed(
                "logistics.shipping_document_should_print_first",
                "The package can not print now, please create shipping document first."
                f"Detail: order_sn {order.id}",
            )
        status = documents.status(call, order, key)
        task.polled = True
        answer: dict[str, Any] = {"package_number": package_number(order), "status": status}
        if status == "FAILED":
            answer |= {
                "fail_error": "logistics.package_can_not_print",
                "fail_message": "The package can not print now.",
            }
        return answer

    return _batch(call, _entries(call), one)


def download_shipping_document(call: Call, documents: DocumentTasks) -> Response:
    """The PDF of every requested package, or the first reason it cannot be had."""
    entries = _entries(call)
    kind = call.body.get("shipping_document_type")
    orders = []
    for entry in entries:
        try:
            order = _order_of(call, entry)
        except Failed as missing:
            raise ShopeeError(missing.error, missing.message) from None
        orders.append(order)
    keys = [(call.shop.id, o.id, package_number(o)) for o in orders]
    unprinted = [
        o.id
        for o, k in zip(orders, keys, strict=True)
        if k not in documents.tasks or kind not in (None, "", documents.tasks[k].document_type)
    ]
    if unprinted:
        raise ShopeeError(
            "logistics.shipping_document_should_print_first",
            "The package can not print now, please create shipping document first."
            f"Detail: these orders: {','.join(unprinted)} should print",
        )
    statuses = [documents.status(call, o, k) for o, k in zip(orders, keys, strict=True)]
    failed = [o.id for o, s in zip(orders, statuses, strict=True) if s == "FAILED"]
    if failed:
        raise ShopeeError(
            "logistics.package_print_failed",
            f"Some package failed to print, please try again later. Detail: {','.join(failed)}",
        )
    waiting = [o.id for o, s in zip(orders, statuses, strict=True) if s != "READY"]
    if waiting:
        raise ShopeeError(
            "logistics.download_later",
            f"Processing, please download later. Detail: {','.join(waiting)}",
        )
    pdf = render([_page(call, order) for order in orders])
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="shipping_document.pdf"'},
    )


def endpoints(documents: DocumentTasks) -> list[Endpoint]:
    """The four document APIs, sharing `documents`."""
    return [
        Endpoint(
            "POST",
            "/api/v2/logistics/get_shipping_document_parameter",
            "shop",
            get_shipping_document_parameter,
        ),
        Endpoint(
            "POST",
            "/api/v2/logistics/create_shipping_document",
            "shop",
            lambda call: create_shipping_document(call, documents),
        ),
        Endpoint(
            "POST",
            "/api/v2/logistics/get_shipping_document_result",
            "shop",
            lambda call: get_shipping_document_result(call, documents),
        ),
        Endpoint(
            "POST",
            "/api/v2/logistics/download_shipping_document",
            "shop",
            lambda call: download_shipping_document(call, documents),
        ),
    ]


def _page(call: Call, order: Order) -> LabelPage:
    recipient = recipient_address(call.shop)
    sender = pickup_address(call.shop, call.state.now())
    return LabelPage(
        platform="Shopee",
        carrier=CARRIER,
        tracking_number=order.tracking_number,
        order_id=order.id,
        package_id=package_number(order),
        sender=f"{call.shop.name}, {sender['address']}, {sender['city']} {sender['zipcode']}",
        recipient=[
            f"{recipient['name']}  {recipient['phone']}",
            recipient["full_address"],
            f"{recipient['city']}, {recipient['state']} {recipient['zipcode']}",
        ],
        items=[f"{line.quantity} x {line.sku} {line.title}" for line in order.lines],
    )
