"""Imports every table so `SQLModel.metadata` is complete (Alembic, tests, RLS checks)."""

from __future__ import annotations

from sqlmodel import SQLModel

from storesync.analytics.models import Activity
from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.fulfilment.models import OrderReturn, ShippingLabel
from storesync.inventory.models import (
    ChannelAllocation,
    InventoryItem,
    InventoryTransaction,
    Location,
    Reservation,
)
from storesync.notifications.models import Notification, WebhookDelivery, WebhookSubscription
from storesync.orders.models import Order, OrderEvent, OrderItem
from storesync.sync.models import (
    CategoryCache,
    Publication,
    StockDrift,
    StockOutbox,
    SyncJob,
    WebhookEvent,
)
from storesync.tenancy.auth.models import AccountLink, OAuthState, UserCredential, UserSession
from storesync.tenancy.models import (
    ApiKey,
    ApiRequest,
    AuditLog,
    Membership,
    Organization,
    User,
)

metadata = SQLModel.metadata

# Tables whose rows belong to one organization; every one gets a row-level security policy.
TENANT_TABLES: tuple[str, ...] = tuple(
    sorted(t.name for t in metadata.sorted_tables if "organization_id" in t.c)
)
# Ledgers: the app role may read and append, never change or delete.
APPEND_ONLY_TABLES: tuple[str, ...] = ("audit_log", "inventory_transaction", "order_event")

__all__ = [
    "APPEND_ONLY_TABLES",
    "TENANT_TABLES",
    "AccountLink",
    "Activity",
    "ApiKey",
    "ApiRequest",
    "AuditLog",
    "CategoryCache",
    "ChannelAllocation",
    "ChannelListing",
    "InventoryItem",
    "InventoryTransaction",
    "Location",
    "Membership",
    "Notification",
    "OAuthState",
    "Order",
    "OrderEvent",
    "OrderItem",
    "OrderReturn",
    "Organization",
    "Product",
    "ProductVariant",
    "Publication",
    "Reservation",
    "ShippingLabel",
    "StockDrift",
    "StockOutbox",
    "Store",
    "SyncJob",
    "User",
    "UserCredential",
    "UserSession",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "metadata",
]
