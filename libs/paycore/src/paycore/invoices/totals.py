"""Invoice arithmetic in integer minor units; tax rounds half up to the minor unit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    quantity: int
    unit_price: int  # minor units

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Totals:
    subtotal: int
    tax: int
    total: int


def compute_totals(lines: Sequence[Line], tax_rate_bps: int) -> Totals:
    """`tax_rate_bps` in basis points (1800 = 18 %)."""
    subtotal = sum(line.amount for line in lines)
    tax = (subtotal * tax_rate_bps + 5_000) // 10_000
    return Totals(subtotal=subtotal, tax=tax, total=subtotal + tax)


def mismatches(
    computed: Totals,
    *,
    subtotal: int | None = None,
    tax: int | None = None,
    total: int | None = None,
) -> dict[str, dict[str, int]]:
    """The sent figures that differ from ours: {field: {sent, expected}}."""
    differences = {}
    for name, sent in (("subtotal", subtotal), ("tax", tax), ("total", total)):
        expected = getattr(computed, name)
        if sent is not None and sent != expected:
            differences[name] = {"sent": sent, "expected": expected}
    return differences
