"""Orders: intake (idempotent per store and platform order id), the status machine with its stock
effects, and the order inbox.

Stock: an order reserves each mapped line at the default location when it is created unpaid or
to_ship (marketplaces hold stock from checkout, so an unpaid order already counts); cancelling
releases, shipping deducts on-hand. An order first seen after it shipped (e.g. placed while a
store's token had expired) is reserved and deducted at once, because its parcel has left the
warehouse. A line that cannot be reserved is recorded as oversold (timeline event and
notification) and shown on the line; the order itself is always kept.

This module is the public entry point; the code lives in `intake` (creating orders;
`intake_batch` creates many new orders of a store at once),
`transitions` (status changes) and `queries` (reads).
"""

from __future__ import annotations

from storesync.orders._common import add_event, announce
from storesync.orders.intake import create_order, record_order
from storesync.orders.intake_batch import record_new_orders
from storesync.orders.queries import get_order, list_orders
from storesync.orders.schemas import BulkStatusResult as BulkStatusResult
from storesync.orders.schemas import NewOrder as NewOrder
from storesync.orders.schemas import OrderDetailDTO as OrderDetailDTO
from storesync.orders.schemas import OrderDTO as OrderDTO
from storesync.orders.schemas import OrderSummaryDTO as OrderSummaryDTO
from storesync.orders.transitions import (
    bulk_change_status,
    change_status,
    lock_order,
    ship_order,
)

__all__ = [
    "add_event",
    "announce",
    "bulk_change_status",
    "change_status",
    "create_order",
    "get_order",
    "list_orders",
    "lock_order",
    "record_new_orders",
    "record_order",
    "ship_order",
]
