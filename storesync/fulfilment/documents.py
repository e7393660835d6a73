"""The documents StoreSync makes itself for a day's shipping: the platforms' labels merged into one
file to print and a pick list for the warehouse (packing slips are in `slips`, on the fonts and
text helpers here).

Pure functions, bytes out: no database, no HTTP. Text is real PDF text (searchable, and read back
by the tests). Product titles come in every script the marketplaces allow: DejaVu Sans is used
when the machine has it (Latin, Vietnamese, Greek, Cyrillic), Helvetica otherwise; a character
the font cannot show is printed as "?" rather than failing the whole document.
"""

from __future__ import annotations

import functools
import io
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PickItem:
    """One order line to pick: which order, from which location, what and how many."""

    order_id: str
    location: str
    sku: str
    title: str
    quantity: int

    def __post_init__(self) -> None:
        require_positive("quantity", self.quantity)


@dataclass(frozen=True, slots=True)
class PickLine:
    """One row of a pick list: a product at a location, its total quantity, and how many orders
    want it."""

    location: str
    sku: str
    title: str
    quantity: int
    orders: int

    def __post_init__(self) -> None:
        require_positive("quantity", self.quantity)
        require_positive("orders", self.orders)


def require_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")


def require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


# ---------------------------------------------------------------------------------------------
# Merging the platforms' labels


def merge_pdfs(documents: Sequence[bytes]) -> bytes:
    """One PDF with every page of every document, in the order given (the platforms' labels of
    many orders, to print at once). `ValueError` for no documents, or one that is not a
    readable PDF with at least one page (naming its position, counted from 0)."""
    if not documents:
        raise ValueError("nothing to merge: no documents")
    writer = PdfWriter()
    for index, document in enumerate(documents):
        for page in _pages_of(index, document):
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_count(document: bytes) -> int:
    """How many pages a PDF has (a label kept to print later); `ValueError` when it is not a
    readable PDF."""
    return len(_read("document", document))


def _pages_of(index: int, document: bytes) -> list[PageObject]:
    pages = _read(f"document {index}", document)
    if not pages:
        raise ValueError(f"document {index} has no pages")
    return pages


def _read(name: str, document: bytes) -> list[PageObject]:
    try:
        reader = PdfReader(io.BytesIO(document))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError(f"{name} is encrypted")
        return list(reader.pages)
    except (PyPdfError, OSError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{name} is not a readable PDF ({error})") from error


# ---------------------------------------------------------------------------------------------
# Fonts and text


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    glyphs: frozenset[int] | None  # code points both fonts show; None: WinAnsi (standard fonts)

    def clean(self, text: str) -> str:
        """`text` as this font can print it: one line, unknown characters as "?"."""
        shown = []
        for char in unicodedata.normalize("NFC", text):
            if not char.isprintable():
                shown.append(" ")
            elif self._shows(char):
                shown.append(char)
            else:
                shown.append("?")
        return "".join(shown)

    def _shows(self, char: str) -> bool:
        if self.glyphs is not None:
            return ord(char) in self.glyphs
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            return False
        return True


HELVETICA = Fonts("Helvetica", "Helvetica-Bold", None)
FONT_ROOT = Path("/usr/share/fonts")
_FONT_DIRS = ("truetype/dejavu", "dejavu", "TTF", "dejavu-sans-fonts")
_REGULAR, _BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"


@functools.cache
def pdf_fonts() -> Fonts:
    """DejaVu Sans when the machine has it (registered once), else Helvetica."""
    found = _find_fonts(FONT_ROOT)
    if found is None:
        return HELVETICA
    try:
        regular = TTFont("StoreSyncSans", str(found[0]))
        bold = TTFont("StoreSyncSans-Bold", str(found[1]))
    except (TTFError, OSError) as error:
        log.warning("documents: cannot load %s (%s); using Helvetica", found[0], error)
        return HELVETICA
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(bold)
    glyphs = frozenset(regular.face.charToGlyph) & frozenset(bold.face.charToGlyph)
    return Fonts(regular.fontName, bold.fontName, glyphs)


def _find_fonts(root: Path) -> tuple[Path, Path] | None:
    for folder in (root / name for name in _FONT_DIRS):
        if (folder / _REGULAR).is_file() and (folder / _BOLD).is_file():
            return folder / _REGULAR, folder / _BOLD
    for regular in root.rglob(_REGULAR) if root.is_dir() else ():
        if (regular.parent / _BOLD).is_file():
            return regular, regular.parent / _BOLD
    return None


def fit_text(text: str, font: str, size: float, width: float) -> str:
    """`text` cut (with an ellipsis) to fit `width` points."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def new_canvas(out: io.BytesIO, size: tuple[float, float], title: str) -> Canvas:
    pdf = Canvas(out, pagesize=size, pageCompression=1, invariant=1)
    pdf.setTitle(title)
    pdf.setCreator("StoreSync")
    return pdf


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or ''}".strip()


# ---------------------------------------------------------------------------------------------
# Pick list


@dataclass
class _Tally:
    title: str
    quantity: int = 0
    orders: set[str] = field(default_factory=set)


def pick_lines(items: Iterable[PickItem]) -> list[PickLine]:
    """The pick list's rows: quantities summed per (location, SKU) with the number of distinct
    orders (the title is the first one seen); lines without a SKU are summed per (location,
    title). Sorted by location, then SKU; lines without a SKU come last in their location, by
    title."""
    tallies: dict[tuple[str, str, str], _Tally] = {}
    for item in items:
        location, sku, title = item.location.strip(), item.sku.strip(), item.title.strip()
        tally = tallies.setdefault((location, sku, "" if sku else title), _Tally(title))
        tally.quantity += item.quantity
        tally.orders.add(item.order_id)
    lines = [
        PickLine(location=loc, sku=sku, title=t.title, quantity=t.quantity, orders=len(t.orders))
        for (loc, sku, _), t in tallies.items()
    ]
    return sorted(lines, key=_pick_order)


def _pick_order(line: PickLine) -> tuple[str, bool, str, str]:
    return (line.location, not line.sku, line.sku, line.title)


_PAGE_W, _PAGE_H = A4
_MARGIN = 15 * mm
_ROW = 15.0
_HEAD = 62.0  # title, summary, column header
_FOOT = 16.0
_PICK_ROWS = int((_PAGE_H - 2 * _MARGIN - _HEAD - _FOOT) // _ROW)
# Column left edges (SKU, product) and right edges (quantity, orders).
_X_SKU, _X_TITLE = _MARGIN, _MARGIN + 125
_X_QTY, _X_ORDERS = _PAGE_W - _MARGIN - 60, _PAGE_W - _MARGIN


@dataclass(frozen=True)
class _Row:
    kind: str  # location | line | subtotal | total
    text: str = ""
    line: PickLine | None = None
    quantity: int = 0


def pick_list_pdf(
    lines: Sequence[PickLine], *, title: str, generated_at: datetime, orders: int
) -> bytes:
    """A warehouse pick list (A4): a heading per location, its lines by SKU with their quantity
    and number of orders, the location's total quantity, and the total of all locations. Every
    page repeats the title, the summary (orders covered, lines, units) and the column header; a
    location that runs onto the next page repeats its heading. `ValueError` for no lines, a
    negative order count or a naive `generated_at`."""
    if not lines:
        raise ValueError("nothing to pick: no lines")
    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 0:
        raise ValueError(f"orders must be a whole number of at least 0, not {orders!r}")
    require_aware("generated_at", generated_at)
    ordered = sorted(lines, key=_pick_order)
    units = sum(line.quantity for line in ordered)
    pages = _pick_pages(ordered)
    fonts = pdf_fonts()
    summary = (
        f"Generated {stamp(generated_at)}  ·  {orders} orders  ·  {len(ordered)} lines  ·  "
        f"{units} units"
    )
    out = io.BytesIO()
    pdf = new_canvas(out, A4, title)
    for number, rows in enumerate(pages, start=1):
        _pick_header(pdf, fonts, fonts.clean(title), summary, f"Page {number} of {len(pages)}")
        y = _PAGE_H - _MARGIN - _HEAD
        for row in rows:
            _pick_row(pdf, fonts, row, y)
            y -= _ROW
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def _pick_pages(lines: list[PickLine]) -> list[list[_Row]]:
    """The rows of each page: a location heading never ends a page, and is repeated at the top of
    a page its location continues on."""
    pages: list[list[_Row]] = [[]]

    def place(row: _Row, *, keep: int = 1, location: str = "") -> None:
        if len(pages[-1]) + keep > _PICK_ROWS:
            pages.append([])
            if location and row.kind != "location":
                pages[-1].append(_Row("location", f"Location: {location} (continued)"))
        pages[-1].append(row)

    for location, group in _by_location(lines):
        name = location or "(no location)"
        place(_Row("location", f"Location: {name}"), keep=2)
        for line in group:
            place(_Row("line", line=line), location=name)
        subtotal = sum(line.quantity for line in group)
        place(_Row("subtotal", f"Total at {name}", quantity=subtotal), location=name)
    place(_Row("total", "Total, all locations", quantity=sum(line.quantity for line in lines)))
    return pages


def _by_location(lines: list[PickLine]) -> list[tuple[str, list[PickLine]]]:
    groups: dict[str, list[PickLine]] = {}
    for line in lines:
        groups.setdefault(line.location, []).append(line)
    return list(groups.items())


def _pick_header(pdf: Canvas, fonts: Fonts, title: str, summary: str, page: str) -> None:
    top = _PAGE_H - _MARGIN
    pdf.setFont(fonts.bold, 15)
    pdf.drawString(_MARGIN, top - 15, fit_text(title, fonts.bold, 15, _PAGE_W - 2 * _MARGIN - 90))
    pdf.setFont(fonts.regular, 9)
    pdf.drawRightString(_PAGE_W - _MARGIN, top - 15, page)
    pdf.drawString(_MARGIN, top - 31, summary)
    pdf.setFont(fonts.bold, 9)
    y = top - 52
    pdf.drawString(_X_SKU, y, "SKU")
    pdf.drawString(_X_TITLE, y, "Product")
    pdf.drawRightString(_X_QTY, y, "Quantity")
    pdf.drawRightString(_X_ORDERS, y, "Orders")
    pdf.setLineWidth(0.6)
    pdf.line(_MARGIN, y - 4, _PAGE_W - _MARGIN, y - 4)
    pdf.setFont(fonts.regular, 8)
    pdf.drawCentredString(_PAGE_W / 2, _MARGIN - 2, page)


def _pick_row(pdf: Canvas, fonts: Fonts, row: _Row, y: float) -> None:
    baseline = y - _ROW + 4
    if row.kind == "location":
        pdf.setFillGray(0.9)
        pdf.rect(_MARGIN, y - _ROW + 1, _PAGE_W - 2 * _MARGIN, _ROW - 1, stroke=0, fill=1)
        pdf.setFillGray(0)
        pdf.setFont(fonts.bold, 10)
        pdf.drawString(_X_SKU + 2, baseline, fit_text(fonts.clean(row.text), fonts.bold, 10, 400))
        return
    if row.line is not None:
        line = row.line
        pdf.setFont(fonts.regular, 9)
        pdf.drawString(_X_SKU, baseline, fit_text(fonts.clean(line.sku), fonts.regular, 9, 118))
        width = _X_QTY - 60 - _X_TITLE
        pdf.drawString(
            _X_TITLE, baseline, fit_text(fonts.clean(line.title), fonts.regular, 9, width)
        )
        pdf.drawRightString(_X_QTY, baseline, str(line.quantity))
        pdf.drawRightString(_X_ORDERS, baseline, str(line.orders))
        return
    pdf.setLineWidth(0.4 if row.kind == "subtotal" else 1.0)
    pdf.line(_X_TITLE, y, _X_ORDERS, y)
    pdf.setFont(fonts.bold, 9)
    pdf.drawString(_X_TITLE, baseline, fit_text(fonts.clean(row.text), fonts.bold, 9, 300))
    pdf.drawRightString(_X_QTY, baseline, str(row.quantity))
