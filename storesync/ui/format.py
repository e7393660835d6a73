"""Display formatting shared by the page states (values arrive as DTO fields)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

ZERO_DECIMAL_CURRENCIES = {"IDR", "VND", "JPY", "KRW"}


def money(amount: Decimal, currency: str) -> str:
    places = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    return f"{currency.upper()} {amount:,.{places}f}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def label(value: str) -> str:
    return value.replace("_", " ")
