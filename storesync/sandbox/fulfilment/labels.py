"""Shipping labels as the platforms print them: a PDF, one A6 page per package, with the
carrier, the tracking number as text and as a Code 128 barcode, the masked recipient and the
items. Both simulators serve these bytes (Shopee's download_shipping_document, TikTok's
shipping-document URL)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas


@dataclass(frozen=True)
class LabelPage:
    platform: str  # "Shopee" / "TikTok Shop", printed in the header
    carrier: str
    tracking_number: str
    order_id: str
    package_id: str
    sender: str
    recipient: list[str]  # masked name, phone, address lines
    items: list[str] = field(default_factory=list)  # "2 x SKU-1 Kaos Polos"


def render(pages: list[LabelPage]) -> bytes:
    """The PDF bytes: one page per package, in order."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A6, invariant=True)
    pdf.setTitle("Shipping labels")
    for page in pages:
        _page(pdf, page)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _page(pdf: canvas.Canvas, page: LabelPage) -> None:
    _width, height = A6
    left, y = 6 * mm, height - 10 * mm
    pdf.setFont("Helvetica-Bold", 12)
    pdf.drawString(left, y, f"{page.platform} - {page.carrier}")
    y -= 7 * mm
    barcode = code128.Code128(page.tracking_number, barHeight=16 * mm, barWidth=0.9)
    barcode.drawOn(pdf, left - 4 * mm, y - 16 * mm)
    y -= 21 * mm
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawString(left, y, f"Tracking: {page.tracking_number}")
    y -= 6 * mm
    pdf.setFont("Helvetica", 8)
    pdf.drawString(left, y, f"Order {page.order_id}   Package {page.package_id}")
    y -= 7 * mm
    pdf.setFont("Helvetica-Bold", 8)
    pdf.drawString(left, y, "Recipient")
    pdf.setFont("Helvetica", 8)
    for line in page.recipient:
        y -= 4 * mm
        pdf.drawString(left, y, line[:70])
    y -= 6 * mm
    pdf.setFont("Helvetica-Bold", 8)
    pdf.drawString(left, y, "Sender")
    pdf.setFont("Helvetica", 8)
    y -= 4 * mm
    pdf.drawString(left, y, page.sender[:70])
    y -= 6 * mm
    pdf.setFont("Helvetica-Bold", 8)
    pdf.drawString(left, y, "Items")
    pdf.setFont("Helvetica", 8)
    for line in page.items[:8]:
        y -= 4 * mm
        pdf.drawString(left, y, line[:70])
    if len(page.items) > 8:
        y -= 4 * mm
        pdf.drawString(left, y, f"... and {len(page.items) - 8} more")
