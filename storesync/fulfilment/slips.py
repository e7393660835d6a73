"""Packing slips: one A5 page per parcel (continued on the next when the order has more lines
than fit), with the store, order number and date, the recipient as the platform gives it, the
carrier and tracking number, and each item with a box to tick as it goes in."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from storesync.fulfilment import documents


@dataclass(frozen=True, slots=True)
class PackingSlip:
    """What goes in one parcel: `lines` are (sku, title, quantity); `recipient` the address lines
    as they are to be printed (masked where the platform masks them)."""

    order_number: str
    platform: str
    store: str
    ordered_at: datetime
    recipient: list[str]
    tracking_number: str
    carrier: str
    lines: list[tuple[str, str, int]]

    def __post_init__(self) -> None:
        if not self.order_number.strip():
            raise ValueError("a packing slip needs an order number")
        documents.require_aware("ordered_at", self.ordered_at)
        if not self.lines:
            raise ValueError(f"packing slip {self.order_number}: no lines")
        for _sku, _title, quantity in self.lines:
            documents.require_positive(f"packing slip {self.order_number}: quantity", quantity)


_SLIP_W, _SLIP_H = A5
_SLIP_MARGIN = 12 * mm
_SLIP_ROW = 16.0
_SLIP_FOOT = 18.0
_RECIPIENT_LINES = 8
_X_BOX = _SLIP_MARGIN
_X_SLIP_SKU = _SLIP_MARGIN + 18
_X_SLIP_TITLE = _SLIP_MARGIN + 110
_X_SLIP_QTY = _SLIP_W - _SLIP_MARGIN
_PLATFORMS = {"shopee": "Shopee", "tiktok": "TikTok Shop"}


def packing_slips_pdf(slips: Sequence[PackingSlip]) -> bytes:
    """Packing slips (A5), one page per order: the store, order number and date, the recipient,
    carrier and tracking number, and the items with a box to tick as each goes in. An order
    with more lines than fit continues on the next page, which repeats the order number and
    tracking number. `ValueError` for no slips."""
    if not slips:
        raise ValueError("no packing slips to print")
    fonts = documents.pdf_fonts()
    out = io.BytesIO()
    pdf = documents.new_canvas(out, A5, "Packing slips")
    for slip in slips:
        _draw_slip(pdf, fonts, slip)
    pdf.save()
    return out.getvalue()


def _draw_slip(pdf: Canvas, fonts: documents.Fonts, slip: PackingSlip) -> None:
    recipient = _recipient_lines(fonts, slip.recipient)
    bottom = _SLIP_MARGIN + _SLIP_FOOT
    first = int((_first_table_top(len(recipient)) - bottom) // _SLIP_ROW)
    rest = int((_next_table_top() - bottom) // _SLIP_ROW)
    rows: list[tuple[str, str, int] | None] = [*slip.lines, None]  # None: the total row
    chunks = [rows[:first]]
    for start in range(first, len(rows), rest):
        chunks.append(rows[start : start + rest])
    units = sum(quantity for _, _, quantity in slip.lines)
    number = fonts.clean(slip.order_number)
    for page, chunk in enumerate(chunks, start=1):
        if page == 1:
            top = _slip_header(pdf, fonts, slip, recipient)
        else:
            top = _slip_continued(pdf, fonts, slip)
        _slip_table(pdf, fonts, chunk, top, len(slip.lines), units)
        pdf.setFont(fonts.regular, 8)
        footer = f"Order {number}  ·  page {page} of {len(chunks)}"
        pdf.drawCentredString(_SLIP_W / 2, _SLIP_MARGIN - 4, footer)
        pdf.showPage()


def _recipient_lines(fonts: documents.Fonts, recipient: list[str]) -> list[str]:
    width = _SLIP_W - 2 * _SLIP_MARGIN
    lines: list[str] = []
    for given in recipient:
        text = fonts.clean(given).strip()
        if text:
            lines.extend(simpleSplit(text, fonts.regular, 9, width))
    if len(lines) > _RECIPIENT_LINES:
        last = documents.fit_text(lines[_RECIPIENT_LINES - 1] + " …", fonts.regular, 9, width)
        lines = [*lines[: _RECIPIENT_LINES - 1], last]
    return lines


def _first_table_top(recipient_lines: int) -> float:
    return _SLIP_H - _SLIP_MARGIN - 96 - 11 * max(recipient_lines, 1) - 24


def _next_table_top() -> float:
    return _SLIP_H - _SLIP_MARGIN - 60


def _slip_header(
    pdf: Canvas, fonts: documents.Fonts, slip: PackingSlip, recipient: list[str]
) -> float:
    left, right, top = _SLIP_MARGIN, _SLIP_W - _SLIP_MARGIN, _SLIP_H - _SLIP_MARGIN
    width = right - left
    pdf.setFont(fonts.bold, 13)
    pdf.drawString(
        left, top - 13, documents.fit_text(fonts.clean(slip.store), fonts.bold, 13, width - 90)
    )
    pdf.setFont(fonts.bold, 8)
    pdf.drawRightString(right, top - 11, "PACKING SLIP")
    pdf.setFont(fonts.regular, 9)
    platform = _PLATFORMS.get(slip.platform, slip.platform)
    pdf.drawString(
        left, top - 26, documents.fit_text(fonts.clean(platform), fonts.regular, 9, width)
    )
    pdf.setFont(fonts.bold, 12)
    number = documents.fit_text(f"Order {fonts.clean(slip.order_number)}", fonts.bold, 12, width)
    pdf.drawString(left, top - 46, number)
    pdf.setFont(fonts.regular, 9)
    pdf.drawString(left, top - 59, f"Ordered {documents.stamp(slip.ordered_at)}")
    pdf.setFont(fonts.bold, 9)
    pdf.drawString(left, top - 80, "Ship to")
    pdf.setFont(fonts.regular, 9)
    y = top - 92
    for line in recipient or ["-"]:
        pdf.drawString(left, y, line)
        y -= 11
    y -= 6
    _carrier_and_tracking(pdf, fonts, slip, y)
    return _first_table_top(len(recipient))


def _slip_continued(pdf: Canvas, fonts: documents.Fonts, slip: PackingSlip) -> float:
    left, top = _SLIP_MARGIN, _SLIP_H - _SLIP_MARGIN
    width = _SLIP_W - 2 * _SLIP_MARGIN
    pdf.setFont(fonts.bold, 11)
    title = f"{fonts.clean(slip.store)}  ·  Order {fonts.clean(slip.order_number)} (continued)"
    pdf.drawString(left, top - 12, documents.fit_text(title, fonts.bold, 11, width))
    _carrier_and_tracking(pdf, fonts, slip, top - 30)
    return _next_table_top()


def _carrier_and_tracking(pdf: Canvas, fonts: documents.Fonts, slip: PackingSlip, y: float) -> None:
    width = (_SLIP_W - 2 * _SLIP_MARGIN) / 2 - 6
    pdf.setFont(fonts.regular, 9)
    carrier = documents.fit_text(
        f"Carrier: {fonts.clean(slip.carrier) or '-'}", fonts.regular, 9, width
    )
    pdf.drawString(_SLIP_MARGIN, y, carrier)
    pdf.setFont(fonts.bold, 9)
    tracking = f"Tracking: {fonts.clean(slip.tracking_number) or '-'}"
    pdf.drawString(_SLIP_W / 2, y, documents.fit_text(tracking, fonts.bold, 9, width))


def _slip_table(
    pdf: Canvas,
    fonts: documents.Fonts,
    rows: list[tuple[str, str, int] | None],
    top: float,
    lines: int,
    units: int,
) -> None:
    pdf.setFont(fonts.bold, 8)
    pdf.drawString(_X_SLIP_SKU, top + 4, "SKU")
    pdf.drawString(_X_SLIP_TITLE, top + 4, "Product")
    pdf.drawRightString(_X_SLIP_QTY, top + 4, "Qty")
    pdf.setLineWidth(0.6)
    pdf.line(_SLIP_MARGIN, top, _X_SLIP_QTY, top)
    y = top
    for row in rows:
        baseline = y - _SLIP_ROW + 5
        if row is None:
            pdf.setFont(fonts.bold, 9)
            pdf.drawString(_X_SLIP_TITLE, baseline, f"{lines} lines, {units} units")
            break
        sku, title, quantity = row
        pdf.setLineWidth(0.7)
        pdf.rect(_X_BOX, baseline - 1, 9, 9, stroke=1, fill=0)
        pdf.setFont(fonts.regular, 8.5)
        pdf.drawString(
            _X_SLIP_SKU, baseline, documents.fit_text(fonts.clean(sku), fonts.regular, 8.5, 88)
        )
        width = _X_SLIP_QTY - 30 - _X_SLIP_TITLE
        title_text = documents.fit_text(fonts.clean(title), fonts.regular, 8.5, width)
        pdf.drawString(_X_SLIP_TITLE, baseline, title_text)
        pdf.setFont(fonts.bold, 9)
        pdf.drawRightString(_X_SLIP_QTY, baseline, str(quantity))
        y -= _SLIP_ROW
