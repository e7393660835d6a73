"""The sandbox's world: apps, shops with items and stock, orders, OAuth codes and tokens.

Plain dataclasses in memory, shared by both platforms; the platform modules translate them to and
from their wire formats. All mutations go through `SandboxState` methods, which emit events
(`order.created`, `order.status`, `stock.changed`) that the webhook dispatcher turns into pushes.
Time comes from the state's own `clock` (real UTC time unless one is injected), so whoever builds
the sandbox can move it; the sandbox imports nothing of StoreSync's.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

Platform = Literal["shopee", "tiktok"]
PLATFORMS: tuple[Platform, ...] = ("shopee", "tiktok")

Clock = Callable[[], datetime]
"""What the sandbox reads the time from: an aware UTC `datetime`, like `datetime.now(UTC)`."""


def real_clock() -> datetime:
    """The default clock: real UTC time."""
    return datetime.now(UTC)


def now() -> int:
    """Unix seconds of real time. Inside the sandbox read `SandboxState.now()` instead, which
    follows the clock the sandbox was built with."""
    return int(real_clock().timestamp())


class SandboxError(Exception):
    """A business rule the platform enforces (e.g. stock below zero); platform modules map the
    `code` to their own error shape."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class App:
    platform: Platform
    key: str  # Shopee partner_id (digits); TikTok app_key
    secret: str  # Shopee partner_key; TikTok app_secret
    service_id: str = ""  # TikTok only


@dataclass
class Model:
    """A sellable unit: a Shopee model (model_id "0" for an item without models) or a TikTok SKU."""

    id: str
    sku: str
    name: str
    price: Decimal
    stock: int
    warehouse_id: str = ""
    # How the model was made from the seller's variant options: Shopee tier indexes, TikTok
    # sales attributes [(name, value)]; empty for seeded and single-model items.
    tier_index: list[int] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Item:
    """A Shopee item or a TikTok product."""

    id: str
    title: str
    status: str
    has_models: bool
    models: list[Model]
    images: list[str]
    create_time: int
    update_time: int
    description: str = ""
    # Set on items created through the API (add_item / create product); seeded ones leave them.
    category_id: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)  # attribute id → values
    tiers: list[tuple[str, list[str]]] = field(default_factory=list)  # Shopee tier variations
    weight_grams: int = 0
    dimensions_cm: tuple[int, int, int] = (0, 0, 0)  # length, width, height
    logistics_ids: list[str] = field(default_factory=list)


@dataclass
class Shop:
    platform: Platform
    id: str
    name: str
    region: str
    currency: str
    cipher: str = ""  # TikTok shop_cipher
    items: dict[str, Item] = field(default_factory=dict)

    def find_model(self, item_id: str, model_id: str) -> tuple[Item, Model]:
        item = self.items.get(item_id)
        if item is None:
            raise SandboxError("item_not_found", f"item {item_id} not found in shop {self.id}")
        for model in item.models:
            if model.id == model_id:
                return item, model
        raise SandboxError("model_not_found", f"model {model_id} not found in item {item_id}")


@dataclass
class Image:
    """An uploaded image (Shopee media_space, TikTok product images)."""

    id: str
    url: str
    size: int
    content_type: str
    width: int = 0
    height: int = 0


@dataclass
class OrderLine:
    item_id: str
    model_id: str
    sku: str
    title: str
    model_name: str
    quantity: int
    price: Decimal


@dataclass
class Order:
    platform: Platform
    shop_id: str
    id: str  # Shopee order_sn; TikTok order id
    status: str  # the platform's own status value
    create_time: int
    update_time: int
    lines: list[OrderLine]
    buyer: str
    currency: str
    total: Decimal
    tracking_number: str = ""
    package_id: str = ""
    cancel_reason: str = ""
    cancel_by: str = ""  # "seller" | "buyer" once cancelled
    handover_method: str = ""  # "pickup" | "dropoff" once arranged
    pickup_slot: str = ""  # the slot chosen at arrange (platform's own id)
    arranged_time: int = 0
    shipped_time: int = 0  # the courier picked the parcel up
    delivered_time: int = 0


# Where each platform's order goes next when the parcel moves on (`SandboxState.advance_order`);
# the first step (ready → arranged) is taken by the platform's ship call, never by `advance`.
NEXT_STATUS: dict[Platform, dict[str, str]] = {
    "shopee": {"PROCESSED": "SHIPPED", "SHIPPED": "COMPLETED"},
    "tiktok": {
        "AWAITING_COLLECTION": "IN_TRANSIT",
        "IN_TRANSIT": "DELIVERED",
        "DELIVERED": "COMPLETED",
    },
}
# Before the parcel leaves: a buyer may cancel, the seller may cancel.
CANCELLABLE: dict[Platform, frozenset[str]] = {
    "shopee": frozenset({"UNPAID", "READY_TO_SHIP", "RETRY_SHIP"}),
    "tiktok": frozenset({"UNPAID", "ON_HOLD", "AWAITING_SHIPMENT"}),
}
# A return can be requested once the parcel has left the seller.
RETURNABLE: dict[Platform, frozenset[str]] = {
    "shopee": frozenset({"SHIPPED", "TO_CONFIRM_RECEIVE", "COMPLETED"}),
    "tiktok": frozenset({"IN_TRANSIT", "DELIVERED", "COMPLETED"}),
}
CANCELLED_STATUS = "CANCELLED"

# A return's stages, shared by both platforms (each renders its own status values):
# requested → accepted (buyer ships the goods back) → completed (received, refunded);
# requested → completed for a refund only; requested|accepted → cancelled (buyer withdrew) or
# rejected (seller refused).
RETURN_STAGES = ("requested", "accepted", "completed", "cancelled", "rejected")
RETURN_MOVES: dict[str, frozenset[str]] = {
    "requested": frozenset({"accepted", "completed", "cancelled", "rejected"}),
    "accepted": frozenset({"completed", "cancelled", "rejected"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
    "rejected": frozenset(),
}


@dataclass
class ReturnLine:
    item_id: str
    model_id: str
    sku: str
    quantity: int
    price: Decimal


@dataclass
class Return:
    """A buyer's return (or refund-only) request on an order that has left the seller."""

    platform: Platform
    shop_id: str
    id: str  # Shopee return_sn; TikTok return_id
    order_id: str
    stage: str  # one of RETURN_STAGES
    reason: str
    refund_only: bool
    lines: list[ReturnLine]
    create_time: int
    update_time: int
    currency: str

    @property
    def refund_amount(self) -> Decimal:
        return sum((ln.price * ln.quantity for ln in self.lines), Decimal(0))


@dataclass
class Token:
    platform: Platform
    shop_id: str
    access_token: str
    refresh_token: str
    access_expires_at: int
    refresh_expires_at: int
    revoked: bool = False


@dataclass
class AuthCode:
    platform: Platform
    shop_id: str
    code: str
    expires_at: int
    used: bool = False


@dataclass
class TokenLifetimes:
    """Seconds. Defaults follow the platforms (Shopee 4 h access / 30 d refresh; TikTok ~7 days);
    tests shorten them to seconds."""

    shopee_access: int = 4 * 3600
    shopee_refresh: int = 30 * 86400
    tiktok_access: int = 7 * 86400
    tiktok_refresh: int = 365 * 86400
    code: int = 600

    def access(self, platform: Platform) -> int:
        return self.shopee_access if platform == "shopee" else self.tiktok_access

    def refresh(self, platform: Platform) -> int:
        return self.shopee_refresh if platform == "shopee" else self.tiktok_refresh


@dataclass
class SandboxEvent:
    platform: Platform
    shop_id: str
    # order.created | order.status | order.tracking_number | stock.changed | return.status
    kind: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    timestamp: int = field(default_factory=now)


Listener = Callable[[SandboxEvent], None]


class SandboxState:
    """Everything the simulators know. Methods are safe to call from several threads."""

    def __init__(
        self, *, lifetimes: TokenLifetimes | None = None, clock: Clock | None = None
    ) -> None:
        self.clock: Clock = clock or real_clock
        self.lock = threading.RLock()
        self.apps: dict[Platform, App] = {}
        self.shops: dict[tuple[Platform, str], Shop] = {}
        self.orders: dict[tuple[Platform, str], Order] = {}
        self.returns: dict[tuple[Platform, str], Return] = {}
        self.tokens: dict[str, Token] = {}  # by access token
        self.refresh_tokens: dict[str, Token] = {}  # by refresh token (single use)
        self.codes: dict[str, AuthCode] = {}
        self.lifetimes = lifetimes or TokenLifetimes()
        self.listeners: list[Listener] = []
        self.webhooks: dict[str, str] = {}  # platform → registered callback URL
        self.tiktok_redirect_url: str = ""
        self.events: deque[SandboxEvent] = deque(maxlen=10_000)
        self.images: dict[tuple[Platform, str], Image] = {}  # (platform, image id) → image
        self._ids = 0

    def now(self) -> int:
        """Unix seconds on this sandbox's clock."""
        return int(self.clock().timestamp())

    # -- lookups -------------------------------------------------------------------------------

    def shop(self, platform: Platform, shop_id: str) -> Shop:
        shop = self.shops.get((platform, str(shop_id)))
        if shop is None:
            raise SandboxError("shop_not_found", f"{platform} shop {shop_id} not found")
        return shop

    def delete_item(self, platform: Platform, shop_id: str, item_id: str) -> None:
        """The seller deletes a listing in the seller centre: later calls about it are refused
        with the platform's item-not-found error."""
        with self.lock:
            shop = self.shop(platform, shop_id)
            if shop.items.pop(str(item_id), None) is None:
                raise SandboxError("item_not_found", f"item {item_id} not found in shop {shop_id}")

    def shop_by_cipher(self, cipher: str) -> Shop:
        for shop in self.shops.values():
            if shop.platform == "tiktok" and shop.cipher == cipher:
                return shop
        raise SandboxError("shop_not_found", f"no shop with cipher {cipher}")

    def shops_of(self, platform: Platform) -> list[Shop]:
        return [s for s in self.shops.values() if s.platform == platform]

    def orders_of(self, platform: Platform, shop_id: str) -> list[Order]:
        return [o for o in self.orders.values() if o.platform == platform and o.shop_id == shop_id]

    # -- events --------------------------------------------------------------------------------

    def emit(self, platform: Platform, shop_id: str, kind: str, data: dict[str, Any]) -> None:
        event = SandboxEvent(platform, shop_id, kind, data, timestamp=self.now())
        self.events.append(event)
        for listener in list(self.listeners):
            listener(event)

    # -- OAuth ---------------------------------------------------------------------------------

    def issue_code(self, platform: Platform, shop_id: str) -> AuthCode:
        with self.lock:
            self.shop(platform, shop_id)
            code = AuthCode(
                platform, shop_id, secrets.token_hex(16), self.now() + self.lifetimes.code
            )
            self.codes[code.code] = code
            return code

    def exchange_code(self, platform: Platform, code: str, shop_id: str | None = None) -> Token:
        """Trade a one-time code for tokens; SandboxError('invalid_code') when unknown, used,
        expired, or issued for another shop."""
        with self.lock:
            found = self.codes.get(code)
            if (
                found is None
                or found.used
                or found.platform != platform
                or found.expires_at < self.now()
                or (shop_id is not None and found.shop_id != str(shop_id))
            ):
                raise SandboxError("invalid_code", "the authorization code is invalid or expired")
            found.used = True
            return self._new_token(platform, found.shop_id)

    def refresh(self, platform: Platform, refresh_token: str, shop_id: str | None = None) -> Token:
        """Rotate: the old refresh token is spent, the old access token revoked."""
        with self.lock:
            old = self.refresh_tokens.pop(refresh_token, None)
            if (
                old is None
                or old.platform != platform
                or old.refresh_expires_at < self.now()
                or (shop_id is not None and old.shop_id != str(shop_id))
            ):
                raise SandboxError("invalid_refresh_token", "refresh token invalid or expired")
            old.revoked = True
            return self._new_token(platform, old.shop_id)

    def _new_token(self, platform: Platform, shop_id: str) -> Token:
        issued = self.now()
        token = Token(
            platform,
            shop_id,
            access_token=secrets.token_hex(16),
            refresh_token=secrets.token_hex(16),
            access_expires_at=issued + self.lifetimes.access(platform),
            refresh_expires_at=issued + self.lifetimes.refresh(platform),
        )
        self.tokens[token.access_token] = token
        self.refresh_tokens[token.refresh_token] = token
        return token

    def check_token(self, platform: Platform, access_token: str, shop_id: str) -> Token:
        """The live token for this shop, or SandboxError('invalid_token' | 'token_expired')."""
        token = self.tokens.get(access_token)
        if token is None or token.revoked or token.platform != platform:
            raise SandboxError("invalid_token", "invalid access token")
        if token.shop_id != str(shop_id):
            raise SandboxError("invalid_token", "access token does not belong to this shop")
        if token.access_expires_at <= self.now():
            raise SandboxError("token_expired", "access token expired")
        return token

    def revoke_shop_tokens(self, platform: Platform, shop_id: str) -> int:
        with self.lock:
            revoked = 0
            for token in self.tokens.values():
                if token.platform == platform and token.shop_id == shop_id and not token.revoked:
                    token.revoked = True
                    revoked += 1
            return revoked

    # -- stock and orders ----------------------------------------------------------------------

    # -- catalog writes ------------------------------------------------------------------------

    def store_image(
        self, platform: Platform, size: int, content_type: str, width: int = 0, height: int = 0
    ) -> Image:
        """Keep an uploaded image (its bytes are not kept: only what the platform reports)."""
        with self.lock:
            image_id = secrets.token_hex(16)
            url = f"https://cdn.sandbox.storesync.local/{platform}/{image_id}.jpg"
            image = Image(image_id, url, size, content_type, width, height)
            self.images[(platform, image_id)] = image
            return image

    def image(self, platform: Platform, image_id: str) -> Image:
        found = self.images.get((platform, image_id))
        if found is None:
            raise SandboxError("image_not_found", f"image {image_id} was not uploaded")
        return found

    def new_id(self, platform: Platform) -> str:
        """A fresh item, model or SKU id in the platform's style (Shopee: 11 digits; TikTok:
        19 digits), unique in the sandbox."""
        with self.lock:
            self._ids += 1
            base = 50_000_000_000 if platform == "shopee" else 1_731_000_000_000_000_000
            return str(base + self.now() % 1_000_000 * 1000 + self._ids)

    def add_item(self, platform: Platform, shop_id: str, item: Item) -> Item:
        """A listing created through the API; `listing.created` tells the control API's
        watchers."""
        with self.lock:
            shop = self.shop(platform, shop_id)
            if item.id in shop.items:
                raise SandboxError("duplicate_item", f"item {item.id} already exists")
            shop.items[item.id] = item
        self.emit(platform, shop_id, "listing.created", {"item_id": item.id})
        return item

    def set_stock(
        self, platform: Platform, shop_id: str, item_id: str, model_id: str, quantity: int
    ) -> Model:
        """Absolute stock, as both platforms' update calls set it; below zero is refused."""
        if quantity < 0:
            raise SandboxError("invalid_stock", "stock must not be negative")
        with self.lock:
            shop = self.shop(platform, shop_id)
            item, model = shop.find_model(item_id, model_id)
            changed = model.stock != quantity
            model.stock = quantity
            item.update_time = self.now()
        if changed:
            self.emit(
                platform,
                shop_id,
                "stock.changed",
                {"item_id": item_id, "model_id": model_id, "stock": quantity},
            )
        return model

    def place_order(
        self,
        platform: Platform,
        shop_id: str,
        lines: list[tuple[str, str, int]],
        *,
        buyer: str = "buyer",
        order_id: str | None = None,
    ) -> Order:
        """A buyer checks out: stock drops at once, like on the real platform; refused (nothing
        changes) when any line exceeds the stock."""
        with self.lock:
            shop = self.shop(platform, shop_id)
            resolved = [(*shop.find_model(i, m), q) for i, m, q in lines]
            for item, model, quantity in resolved:
                if quantity < 1 or quantity > model.stock:
                    raise SandboxError(
                        "insufficient_stock",
                        f"{model.sku or item.id}: {quantity} requested, {model.stock} in stock",
                    )
            created = self.now()
            order_lines = []
            for item, model, quantity in resolved:
                model.stock -= quantity
                item.update_time = created
                order_lines.append(
                    OrderLine(
                        item.id, model.id, model.sku, item.title, model.name, quantity, model.price
                    )
                )
            order = Order(
                platform,
                shop.id,
                order_id or _order_id(platform, created),
                _initial_status(platform),
                created,
                created,
                order_lines,
                buyer,
                shop.currency,
                sum((ln.price * ln.quantity for ln in order_lines), Decimal(0)),
            )
            self.orders[(platform, order.id)] = order
        self.emit(
            platform, shop_id, "order.created", {"order_id": order.id, "status": order.status}
        )
        for _item, model, _quantity in resolved:
            self.emit(
                platform,
                shop_id,
                "stock.changed",
                {"item_id": _item.id, "model_id": model.id, "stock": model.stock},
            )
        return order

    def set_order_status(
        self, platform: Platform, order_id: str, status: str, *, restock: bool = False
    ) -> Order:
        """Move an order to a platform status; `restock` puts cancelled units back."""
        with self.lock:
            order = self.orders.get((platform, order_id))
            if order is None:
                raise SandboxError("order_not_found", f"order {order_id} not found")
            if order.status == status:
                return order
            order.status = status
            order.update_time = self.now()
            if restock:
                shop = self.shop(platform, order.shop_id)
                for line in order.lines:
                    _item, model = shop.find_model(line.item_id, line.model_id)
                    model.stock += line.quantity
        self.emit(platform, order.shop_id, "order.status", {"order_id": order_id, "status": status})
        return order

    def order(self, platform: Platform, order_id: str) -> Order:
        order = self.orders.get((platform, str(order_id)))
        if order is None:
            raise SandboxError("order_not_found", f"order {order_id} not found")
        return order

    def cancel_order(self, platform: Platform, order_id: str, *, by: str, reason: str) -> Order:
        """The buyer or the seller cancels before the parcel leaves: the units go back on sale
        and `order.status` is sent. Refused (`order_not_cancellable`, nothing changes) once
        arranged, shipped or already cancelled."""
        with self.lock:
            order = self.order(platform, order_id)
            if order.status == CANCELLED_STATUS:
                raise SandboxError("order_already_cancelled", f"order {order_id} is cancelled")
            if order.status not in CANCELLABLE[platform]:
                raise SandboxError(
                    "order_not_cancellable",
                    f"order {order_id} is {order.status}: it can no longer be cancelled",
                )
            order.cancel_by = by
            order.cancel_reason = reason
        return self.set_order_status(platform, order_id, CANCELLED_STATUS, restock=True)

    def arrange_order(
        self, platform: Platform, order_id: str, *, to_status: str, method: str, slot: str = ""
    ) -> Order:
        """The seller arranged shipment (the platform module checked the request): the order
        moves to `to_status` (PROCESSED / AWAITING_COLLECTION) with a tracking number."""
        with self.lock:
            order = self.order(platform, order_id)
            order.handover_method = method
            order.pickup_slot = slot
            order.arranged_time = self.now()
            if not order.tracking_number:
                prefix = "SPXID0" if platform == "shopee" else "JX"
                order.tracking_number = f"{prefix}{secrets.randbelow(10**10):010d}"
        return self.set_order_status(platform, order_id, to_status)

    def advance_order(self, platform: Platform, order_id: str) -> Order:
        """The parcel moves on one step (courier pickup, delivery, buyer confirms); refused
        before shipment is arranged and after the last step."""
        with self.lock:
            order = self.order(platform, order_id)
            following = NEXT_STATUS[platform].get(order.status)
            if following is None:
                raise SandboxError(
                    "order_cannot_advance",
                    f"order {order_id} is {order.status}: nothing follows "
                    "(arrange shipment first, or the order is finished)",
                )
            moment = self.now()
            if order.shipped_time == 0:
                order.shipped_time = moment
            if following in ("COMPLETED", "DELIVERED") and order.delivered_time == 0:
                order.delivered_time = moment
        return self.set_order_status(platform, order_id, following)

    def open_return(
        self,
        platform: Platform,
        order_id: str,
        *,
        lines: list[tuple[str, str, int]] | None = None,
        reason: str = "Damaged item",
        refund_only: bool = False,
    ) -> Return:
        """The buyer asks to return `lines` (item id, model id, quantity; all of the order when
        None) of an order that has left the seller; sends `return.status`."""
        with self.lock:
            order = self.order(platform, order_id)
            if order.status not in RETURNABLE[platform]:
                raise SandboxError(
                    "order_not_returnable",
                    f"order {order_id} is {order.status}: only a shipped order can be returned",
                )
            by_key = {(ln.item_id, ln.model_id): ln for ln in order.lines}
            wanted = lines or [(ln.item_id, ln.model_id, ln.quantity) for ln in order.lines]
            return_lines = []
            for item_id, model_id, quantity in wanted:
                line = by_key.get((str(item_id), str(model_id)))
                if line is None or not 1 <= quantity <= line.quantity:
                    raise SandboxError(
                        "invalid_return_line",
                        f"item {item_id}/{model_id} x{quantity} is not on order {order_id}",
                    )
                return_lines.append(
                    ReturnLine(line.item_id, line.model_id, line.sku, quantity, line.price)
                )
            created = self.now()
            found = Return(
                platform,
                order.shop_id,
                _return_id(platform, created),
                order.id,
                "requested",
                reason,
                refund_only,
                return_lines,
                created,
                created,
                order.currency,
            )
            self.returns[(platform, found.id)] = found
        self._return_event(found)
        return found

    def move_return(self, platform: Platform, return_id: str, stage: str) -> Return:
        """A return moves on (accepted, completed, cancelled, rejected); refused when the
        stage does not follow."""
        with self.lock:
            found = self.returns.get((platform, str(return_id)))
            if found is None:
                raise SandboxError("return_not_found", f"return {return_id} not found")
            if stage not in RETURN_STAGES:
                raise SandboxError(
                    "invalid_return_stage", f"stage must be one of {', '.join(RETURN_STAGES)}"
                )
            if stage == found.stage:
                return found
            if stage not in RETURN_MOVES[found.stage]:
                raise SandboxError(
                    "return_stage_not_allowed",
                    f"return {return_id} is {found.stage}: it cannot become {stage}",
                )
            found.stage = stage
            found.update_time = self.now()
        self._return_event(found)
        return found

    def returns_of(self, platform: Platform, shop_id: str) -> list[Return]:
        return [r for r in self.returns.values() if r.platform == platform and r.shop_id == shop_id]

    def _return_event(self, found: Return) -> None:
        self.emit(
            found.platform,
            found.shop_id,
            "return.status",
            {"return_id": found.id, "order_id": found.order_id, "stage": found.stage},
        )

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy (persistence, inspection)."""
        with self.lock:
            return {
                "apps": {p: asdict(a) for p, a in self.apps.items()},
                "shops": [asdict(s) for s in self.shops.values()],
                "orders": [asdict(o) for o in self.orders.values()],
                "returns": [asdict(r) for r in self.returns.values()],
                "tokens": [asdict(t) for t in self.tokens.values()],
            }


def _initial_status(platform: Platform) -> str:
    return "READY_TO_SHIP" if platform == "shopee" else "AWAITING_SHIPMENT"


def _order_id(platform: Platform, created: int) -> str:
    if platform == "shopee":
        day = datetime.fromtimestamp(created, UTC).strftime("%y%m%d")
        return day + secrets.token_hex(4).upper()[:8]
    return str(576_000_000_000_000_000 + secrets.randbelow(10**15))


def _return_id(platform: Platform, created: int) -> str:
    if platform == "shopee":
        day = datetime.fromtimestamp(created, UTC).strftime("%y%m%d")
        return day + str(secrets.randbelow(10**9)).zfill(9)  # return_sn: digits
    return str(4_035_000_000_000_000_000 + secrets.randbelow(10**15))
