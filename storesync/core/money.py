"""Money is a Decimal with a currency; never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Minor units per ISO 4217 for the currencies our marketplaces use.
MINOR_UNITS = {"IDR": 0, "VND": 0, "SGD": 2, "MYR": 2, "THB": 2, "PHP": 2, "USD": 2, "TWD": 0}


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        code = currency.upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError(f"currency must be a 3-letter ISO code, got {currency!r}")
        if isinstance(amount, float):
            raise TypeError("money amounts must not be floats; pass a str, int or Decimal")
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise ValueError(f"not a number: {amount!r}") from None
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {amount!r}")
        places = Decimal(1).scaleb(-MINOR_UNITS.get(code, 2))
        return cls(value.quantize(places, rounding=ROUND_HALF_UP), code)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
