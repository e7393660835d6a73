"""The documents StoreSync prints itself: merged labels, pick lists and packing slips, read back
with pypdf (page counts, text on each page, totals)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from reportlab.pdfgen.canvas import Canvas

from storesync.fulfilment import documents
from storesync.fulfilment.documents import (
    PickItem,
    PickLine,
    merge_pdfs,
    page_count,
    pick_lines,
    pick_list_pdf,
)
from storesync.fulfilment.slips import PackingSlip, packing_slips_pdf

GENERATED = datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Jakarta"))
ORDERED = datetime(2026, 2, 28, 14, 5, tzinfo=UTC)


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _pdf(*pages: str) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out)
    for text in pages:
        canvas.drawString(72, 720, text)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _total(text: str, label: str) -> int:
    found = re.search(re.escape(label) + r"\s+(\d+)", text)
    assert found, f"{label!r} not in {text!r}"
    return int(found.group(1))


def _slip(number: str, count: int = 2, **changes: object) -> PackingSlip:
    fields: dict[str, object] = {
        "order_number": number,
        "platform": "shopee",
        "store": "Toko Budi",
        "ordered_at": ORDERED,
        "recipient": ["Budi Santoso", "+62 812 ****78", "Jl. Merdeka 1, Jakarta 10110"],
        "tracking_number": f"TRK-{number}",
        "carrier": "SPX Express",
        "lines": [(f"{number}-SKU-{i:03d}", f"Kaos {i}", 2) for i in range(count)],
    }
    return PackingSlip(**{**fields, **changes})  # type: ignore[arg-type]


# Merging labels


def test_merge_keeps_every_page_of_every_document_in_order() -> None:
    first, second, third = _pdf("label A1"), _pdf("label B1", "label B2"), _pdf("label C1")

    merged = _pages(merge_pdfs([first, second, third]))

    assert [text.strip() for text in merged] == ["label A1", "label B1", "label B2", "label C1"]


def test_page_count_counts_a_labels_pages_and_refuses_what_is_not_a_pdf() -> None:
    assert page_count(_pdf("label B1", "label B2")) == 2
    with pytest.raises(ValueError, match="not a readable PDF"):
        page_count(b"%PDF-1.4 truncated")


def test_merging_nothing_or_something_that_is_not_a_pdf_is_refused() -> None:
    with pytest.raises(ValueError, match="no documents"):
        merge_pdfs([])
    with pytest.raises(ValueError, match="document 1 is not a readable PDF"):
        merge_pdfs([_pdf("fine"), b"<html>not a label</html>"])


# Pick lines


def test_pick_lines_total_each_sku_per_location_with_its_distinct_orders() -> None:
    items = [
        PickItem("o1", "MAIN", "SKU-B", "Sandal 42", 2),
        PickItem("o1", "MAIN", "SKU-A", "Kaos hitam M", 1),
        PickItem("o1", "MAIN", "SKU-A", "Kaos hitam M", 3),  # same order twice: one order
        PickItem("o2", "MAIN", "SKU-A", "Kaos hitam M (promo)", 4),
        PickItem("o2", "GUDANG-2", "SKU-A", "Kaos hitam M", 5),
        PickItem("o3", "MAIN", "", "Gift wrap", 1),
        PickItem("o4", "MAIN", " ", "Gift wrap", 2),
        PickItem("o4", "MAIN", "", "Sticker", 1),
        PickItem("o3", "MAIN", "SKU-C", "Topi", 1),
    ]

    lines = pick_lines(items)

    assert lines == [
        PickLine("GUDANG-2", "SKU-A", "Kaos hitam M", 5, 1),
        PickLine("MAIN", "SKU-A", "Kaos hitam M", 8, 2),
        PickLine("MAIN", "SKU-B", "Sandal 42", 2, 1),
        PickLine("MAIN", "SKU-C", "Topi", 1, 1),
        PickLine("MAIN", "", "Gift wrap", 3, 2),
        PickLine("MAIN", "", "Sticker", 1, 1),
    ]


def test_pick_items_and_lines_refuse_quantities_below_one() -> None:
    with pytest.raises(ValueError, match="quantity"):
        PickItem("o1", "MAIN", "SKU-A", "Kaos", 0)
    with pytest.raises(ValueError, match="orders"):
        PickLine("MAIN", "SKU-A", "Kaos", 1, 0)


# Pick list


def test_a_long_pick_list_breaks_pages_and_repeats_its_header() -> None:
    # 300 lines at one location, quantities 1..5 repeating: 60 x (1+2+3+4+5) = 900 units.
    lines = [
        PickLine("MAIN", f"SKU-{i:04d}", f"Kaos {i}", i % 5 + 1, 1) for i in reversed(range(300))
    ]

    pages = _pages(
        pick_list_pdf(lines, title="Pick list 1 March", generated_at=GENERATED, orders=120)
    )

    # 45 rows a page: a heading and 44 lines on each of six pages, then the last 36 lines,
    # the location total and the grand total.
    assert len(pages) == 7
    for number, text in enumerate(pages, start=1):
        assert "Pick list 1 March" in text
        assert f"Page {number} of 7" in text
        assert "120 orders" in text and "300 lines" in text and "900 units" in text
        assert all(column in text for column in ("SKU", "Product", "Quantity", "Orders"))
        heading = "Location: MAIN" if number == 1 else "Location: MAIN (continued)"
        assert heading in text
    skus = [sku for text in pages for sku in re.findall(r"SKU-\d{4}", text)]
    assert skus == [f"SKU-{i:04d}" for i in range(300)]  # each once, sorted by SKU
    assert _total(pages[-1], "Total at MAIN") == 900
    assert _total(pages[-1], "Total, all locations") == 900
    assert "Total" not in "".join(pages[:-1])


def test_a_pick_list_totals_each_location_and_all_of_them() -> None:
    lines = [
        PickLine("RAK-B", "SKU-Z", "Topi", 5, 3),
        PickLine("RAK-A", "SKU-B", "Sandal 42", 4, 2),
        PickLine("RAK-A", "SKU-A", "Kaos hitam M", 3, 1),
        PickLine("RAK-B", "SKU-Y", "Tas", 2, 2),
    ]

    (text,) = _pages(pick_list_pdf(lines, title="Today", generated_at=GENERATED, orders=6))

    assert "6 orders" in text and "4 lines" in text and "14 units" in text
    assert "2026-03-01 09:30 WIB" in text
    assert _total(text, "Total at RAK-A") == 3 + 4
    assert _total(text, "Total at RAK-B") == 5 + 2
    assert _total(text, "Total, all locations") == 14
    order = [text.index(s) for s in ("RAK-A", "SKU-A", "SKU-B", "RAK-B", "SKU-Y", "SKU-Z")]
    assert order == sorted(order)


def test_a_pick_list_needs_lines_an_order_count_and_an_aware_time() -> None:
    line = PickLine("MAIN", "SKU-A", "Kaos", 1, 1)
    with pytest.raises(ValueError, match="no lines"):
        pick_list_pdf([], title="x", generated_at=GENERATED, orders=0)
    with pytest.raises(ValueError, match="orders"):
        pick_list_pdf([line], title="x", generated_at=GENERATED, orders=-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        pick_list_pdf([line], title="x", generated_at=datetime(2026, 3, 1), orders=1)


# Packing slips


def test_each_order_gets_its_own_slip_page_with_its_number_and_tracking() -> None:
    slips = [_slip("SO-1001"), _slip("SO-1002", carrier="J&T"), _slip("SO-1003")]

    pages = _pages(packing_slips_pdf(slips))

    assert len(pages) == 3
    for text, slip in zip(pages, slips, strict=True):
        assert f"Order {slip.order_number}" in text
        assert f"Tracking: {slip.tracking_number}" in text
        others = {s.order_number for s in slips} - {slip.order_number}
        assert not any(other in text for other in others)
        assert "Toko Budi" in text and "Shopee" in text and "Ordered 2026-02-28 14:05 UTC" in text
        assert "Budi Santoso" in text and "+62 812 ****78" in text and "Jakarta 10110" in text
        assert f"Carrier: {slip.carrier}" in text
        assert f"{slip.order_number}-SKU-000" in text and "2 lines, 4 units" in text


def test_a_slip_with_many_lines_continues_on_the_next_pages() -> None:
    # 22 rows fit under a three-line address, 28 on a continuation page: 60 lines and the
    # total row take 22 + 28 + 11.
    slips = [_slip("SO-1"), _slip("SO-2", count=60), _slip("SO-3")]

    pages = _pages(packing_slips_pdf(slips))

    assert len(pages) == 5
    numbers = [re.search(r"Order (SO-\d)", text).group(1) for text in pages]  # type: ignore[union-attr]
    assert numbers == ["SO-1", "SO-2", "SO-2", "SO-2", "SO-3"]
    long = pages[1:4]
    assert all("Tracking: TRK-SO-2" in text for text in long)
    assert "(continued)" in long[1] and "(continued)" in long[2]
    assert [f"page {n} of 3" in text for n, text in enumerate(long, start=1)] == [True] * 3
    skus = [sku for text in long for sku in re.findall(r"SO-2-SKU-\d{3}", text)]
    assert skus == [f"SO-2-SKU-{i:03d}" for i in range(60)]
    assert "60 lines, 120 units" in long[2]


def test_slips_refuse_what_cannot_be_printed() -> None:
    with pytest.raises(ValueError, match="no packing slips"):
        packing_slips_pdf([])
    with pytest.raises(ValueError, match="timezone-aware"):
        _slip("SO-1", ordered_at=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="quantity"):
        _slip("SO-1", lines=[("SKU", "Kaos", 0)])
    with pytest.raises(ValueError, match="no lines"):
        _slip("SO-1", count=0)
    with pytest.raises(ValueError, match="order number"):
        _slip("  ")


# Scripts the fonts cannot show


TITLES = ["Áo thun cổ tròn", "เสื้อยืด สีดำ", "黑色T恤", "Kaos 👕 hitam", "Tab\there"]


@pytest.mark.parametrize("fonts", ["installed", "helvetica"])
def test_titles_in_any_script_print_and_the_rest_of_the_text_stays(
    fonts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fonts == "helvetica":
        monkeypatch.setattr(documents, "pdf_fonts", lambda: documents.HELVETICA)
    lines = [PickLine("MAIN", f"SKU-{i}", title, 1, 1) for i, title in enumerate(TITLES)]
    slip = _slip("SO-9", recipient=["Nguyễn Văn A", "กรุงเทพฯ"], count=1)

    (pick,) = _pages(pick_list_pdf(lines, title="Pick ✓ list", generated_at=GENERATED, orders=1))
    (packing,) = _pages(packing_slips_pdf([slip]))

    assert all(f"SKU-{i}" in pick for i in range(len(TITLES)))
    assert "Kaos ? hitam" in pick and "Tab here" in pick
    assert "Áo thun c" in pick  # in Latin-1 or DejaVu
    assert "Order SO-9" in packing and "Tracking: TRK-SO-9" in packing
    if documents.pdf_fonts() is not documents.HELVETICA:
        assert "Áo thun cổ tròn" in pick and "Nguyễn Văn A" in packing
    else:
        assert "?" in packing
