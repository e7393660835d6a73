"""A store's price rule: the master price, times a markup, plus a fixed amount, rounded the way
the currency is written, never below the variant's cost plus a floor.

    price = round(master * (1 + markup_percent / 100) + add)     refused when < cost + floor

Kept in `Store.settings["price_rule"]`; the default rule (0 %, 0, floor 0) sends the master price
as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from storesync.core.errors import ValidationFailed

SETTINGS_KEY = "price_rule"
# Currencies written without minor units on the marketplaces StoreSync serves.
WHOLE_CURRENCIES = frozenset({"IDR", "VND", "JPY", "KRW", "CLP"})
MAX_MARKUP = Decimal(1000)
MAX_AMOUNT = Decimal(10) ** 12


@dataclass(frozen=True)
class PriceRule:
    markup_percent: Decimal = Decimal(0)
    add: Decimal = Decimal(0)
    floor: Decimal = Decimal(0)  # the least margin over cost a price may keep

    def as_settings(self) -> dict[str, str]:
        return {
            "markup_percent": _plain(self.markup_percent),
            "add": _plain(self.add),
            "floor": _plain(self.floor),
        }

    def describe(self) -> str:
        """The rule in a few words ("master price + 10 % + 500, at least cost + 1,000")."""
        text = "master price"
        if self.markup_percent:
            sign = "+" if self.markup_percent > 0 else "-"
            text += f" {sign} {_plain(abs(self.markup_percent))} %"
        if self.add:
            text += f" {'+' if self.add > 0 else '-'} {_plain(abs(self.add))}"
        if self.floor:
            text += f", at least cost + {_plain(self.floor)}"
        return text


def parse_rule(values: dict[str, Any]) -> PriceRule:
    """A rule from form or JSON values (blank means 0); `ValidationFailed` names the field."""
    markup = _number(values, "markup_percent")
    if not Decimal(-90) <= markup <= MAX_MARKUP:
        raise ValidationFailed("markup_percent", "must be from -90 to 1000")
    add = _number(values, "add")
    if abs(add) > MAX_AMOUNT:
        raise ValidationFailed("add", "is too large")
    floor = _number(values, "floor")
    if floor < 0 or floor > MAX_AMOUNT:
        raise ValidationFailed("floor", "must be 0 or more")
    return PriceRule(markup, add, floor)


def stored_rule(settings: dict[str, Any] | None) -> PriceRule:
    """The rule kept in a store's settings, or the default one."""
    raw = (settings or {}).get(SETTINGS_KEY)
    return parse_rule(raw) if isinstance(raw, dict) else PriceRule()


def round_price(amount: Decimal, currency: str) -> Decimal:
    """Half up to whole units (IDR, VND...) or to cents."""
    places = Decimal(1) if currency.upper() in WHOLE_CURRENCIES else Decimal("0.01")
    return amount.quantize(places, rounding=ROUND_HALF_UP)


def price_for(
    rule: PriceRule, master: Decimal, cost: Decimal | None, currency: str
) -> tuple[Decimal, str]:
    """(the channel price, why it may not be sent: "" when it may)."""
    price = round_price(master * (1 + rule.markup_percent / 100) + rule.add, currency)
    if price <= 0:
        return price, "the rule gives no positive price"
    if cost is not None and price < cost + rule.floor:
        least = round_price(cost + rule.floor, currency)
        return price, f"below cost + floor ({_plain(least)})"
    return price, ""


def _number(values: dict[str, Any], name: str) -> Decimal:
    raw = str(values.get(name, "") or "").strip().replace(",", "").rstrip("%").strip()
    if not raw:
        return Decimal(0)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValidationFailed(name, "must be a number") from None
    if not value.is_finite():
        raise ValidationFailed(name, "must be a number")
    return value


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
