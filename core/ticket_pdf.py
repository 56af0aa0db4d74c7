"""Printable PDF tickets: one A4 page per ticket, with its event, attendee, code and QR.

Drawn with reportlab's standard fonts so the text stays extractable (and searchable in a
mail client); they cover Western European text (cp1252), other scripts show as boxes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reportlab.graphics.barcode import qrencoder
from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from core.money import currency_exponent, format_price
from core.ticket_signing import format_ticket_code

_WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
# 6 cm including the quiet zone keeps modules near 0.9 mm for a ~250-character payload:
# comfortable for phone cameras and door scanners, even from a cheap printer.
QR_SIZE = 60 * mm
_GUTTER = 8 * mm
_LEFT_COLUMN_WIDTH = CONTENT_WIDTH - QR_SIZE - _GUTTER
_BAND_PADDING = 5 * mm
_ELLIPSIS = "\u2026"
_EN_DASH = "\u2013"

_INK = HexColor("#1B2333")
_QR_INK = HexColor("#000000")  # full contrast: scanners read black on white best
_QR_QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks
_MUTED = HexColor("#5B6475")
_ACCENT = HexColor("#2F5BEA")
_BAND = HexColor("#1F2A44")
_CODE_BOX = HexColor("#EEF1F6")
_RULE = HexColor("#C9CED8")

_REGULAR = "Helvetica"
_BOLD = "Helvetica-Bold"
_MONO = "Courier-Bold"


@dataclass(frozen=True)
class TicketSheet:
    """Everything printed on one ticket, already resolved to plain values."""

    event_title: str
    starts_at: datetime
    ends_at: datetime | None
    timezone: str
    venue: str
    address: str
    attendee_name: str
    ticket_type: str
    price_minor: int
    currency: str
    booking_reference: str
    code: str
    qr_payload: str
    # A reserved seat: `{section, row, label}`, printed large beside the QR; None otherwise.
    seat: dict | None = None

    def __post_init__(self) -> None:
        # Fail when the sheet is built, where the caller can tell which ticket is wrong,
        # rather than halfway through a PDF of a hundred pages.
        _require_aware("starts_at", self.starts_at)
        if self.ends_at is not None:
            _require_aware("ends_at", self.ends_at)
            if self.ends_at < self.starts_at:
                raise ValueError("ends_at is before starts_at")
        _zone(self.timezone)
        if type(self.price_minor) is not int or self.price_minor < 0:
            raise ValueError("price_minor must be a non-negative integer of minor units")
        currency_exponent(self.currency)
        if not self.qr_payload:
            raise ValueError("a ticket needs its QR payload")


def render_tickets_pdf(tickets: Sequence[TicketSheet]) -> bytes:
    """Return one PDF with a page per ticket, in the given order."""
    if not tickets:
        raise ValueError("no tickets to render")
    buffer = BytesIO()
    # invariant: no creation timestamp or random id, so the same tickets give the same bytes.
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    titles = {ticket.event_title for ticket in tickets}
    canvas.setTitle(f"Tickets: {tickets[0].event_title}" if len(titles) == 1 else "Tickets")
    canvas.setAuthor("Boxoffice")
    for number, ticket in enumerate(tickets, start=1):
        _draw_ticket_page(canvas, ticket, number, len(tickets))
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def format_event_time(starts_at: datetime, ends_at: datetime | None, timezone: str) -> str:
    """Render an event's time in its own zone, in English.

    e.g. "Sunday 14 March 2027, 19:30 – 22:00 (Europe/Paris)"; the end date is repeated
    only when the event runs past midnight.
    """
    zone = _zone(timezone)
    _require_aware("starts_at", starts_at)
    start = starts_at.astimezone(zone)
    text = f"{_long_date(start)}, {start:%H:%M}"
    if ends_at is not None:
        _require_aware("ends_at", ends_at)
        end = ends_at.astimezone(zone)
        same_day = end.date() == start.date()
        text += f" {_EN_DASH} " + (f"{end:%H:%M}" if same_day else f"{_long_date(end)}, {end:%H:%M}")
    return f"{text} ({timezone})"


def _long_date(moment: datetime) -> str:
    # Spelled out by hand: strftime's %A and %B follow the process locale.
    return f"{_WEEKDAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _require_aware(name: str, moment: datetime) -> None:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone: {name!r}") from None


def _draw_ticket_page(canvas: Canvas, ticket: TicketSheet, number: int, total: int) -> None:
    top = PAGE_HEIGHT - MARGIN
    _draw_line(canvas, "ADMISSION TICKET", MARGIN, top - 9, _BOLD, 9, _ACCENT)
    counter = f"Ticket {number} of {total}"
    _draw_line(
        canvas,
        counter,
        PAGE_WIDTH - MARGIN - stringWidth(counter, _REGULAR, 9),
        top - 9,
        _REGULAR,
        9,
        _MUTED,
    )

    y = _draw_title_band(canvas, ticket.event_title, top - 9 * mm)
    y -= 7 * mm
    y = _draw_field(
        canvas,
        "WHEN",
        [
            (
                format_event_time(ticket.starts_at, ticket.ends_at, ticket.timezone),
                _BOLD,
                13,
                3,
            ),
        ],
        MARGIN,
        y,
        CONTENT_WIDTH,
    )
    y -= 4 * mm
    y = _draw_field(
        canvas,
        "WHERE",
        [
            (ticket.venue, _BOLD, 13, 2),
            (ticket.address, _REGULAR, 11, 3),
        ],
        MARGIN,
        y,
        CONTENT_WIDTH,
    )

    y -= 6 * mm
    canvas.setStrokeColor(_RULE)
    canvas.setLineWidth(0.75)
    canvas.line(MARGIN, y, PAGE_WIDTH - MARGIN, y)
    y -= 7 * mm

    y = min(
        _draw_ticket_details(canvas, ticket, y),
        _draw_qr_column(canvas, ticket.qr_payload, y),
    )
    _draw_code_box(canvas, ticket.code, y - 8 * mm)
    _draw_footer(canvas)


def _draw_title_band(canvas: Canvas, title: str, top: float) -> float:
    """Draw the event title in white on a dark band; return the band's bottom edge."""
    width = CONTENT_WIDTH - 2 * _BAND_PADDING
    # Shrink long titles before wrapping them further, so the band stays a band.
    for size in (28, 24, 20, 17):
        lines = _wrap(title, _BOLD, size, width)
        if len(lines) <= 3:
            break
    else:
        size = 14
        lines = _clip(_wrap(title, _BOLD, size, width), _BOLD, size, width, max_lines=4)
    leading = size * 1.2
    height = 2 * _BAND_PADDING + len(lines) * leading
    bottom = top - height
    canvas.setFillColor(_BAND)
    canvas.roundRect(MARGIN, bottom, CONTENT_WIDTH, height, 3 * mm, stroke=0, fill=1)
    baseline = top - _BAND_PADDING - size * 0.95
    for line in lines:
        _draw_line(canvas, line, MARGIN + _BAND_PADDING, baseline, _BOLD, size, white)
        baseline -= leading
    return bottom


def _draw_ticket_details(canvas: Canvas, ticket: TicketSheet, top: float) -> float:
    width = _LEFT_COLUMN_WIDTH
    if ticket.seat is not None:
        seat = ticket.seat
        top = _draw_field(canvas, "YOUR SEAT", [(seat["section"], _BOLD, 14, 1), (f"Row {seat['row']}", _BOLD, 24, 1),
                                                (f"Seat {seat['label']}", _BOLD, 24, 1)], MARGIN, top, width) - 5 * mm  # fmt: skip
    y = _draw_field(canvas, "ATTENDEE", [(ticket.attendee_name, _BOLD, 16, 2)], MARGIN, top, width)
    y = _draw_field(
        canvas,
        "TICKET TYPE",
        [(ticket.ticket_type, _REGULAR, 12, 2)],
        MARGIN,
        y - 5 * mm,
        width,
    )
    price = format_price(ticket.price_minor, ticket.currency)
    y = _draw_field(canvas, "PRICE", [(price, _BOLD, 12, 1)], MARGIN, y - 5 * mm, width)
    return _draw_field(
        canvas,
        "BOOKING REFERENCE",
        [(ticket.booking_reference, _REGULAR, 12, 2)],
        MARGIN,
        y - 5 * mm,
        width,
    )


def _draw_qr_column(canvas: Canvas, payload: str, top: float) -> float:
    left = PAGE_WIDTH - MARGIN - QR_SIZE
    _draw_qr(canvas, payload, left, top - QR_SIZE, QR_SIZE)
    caption = "Scan at the entrance"
    caption_x = left + (QR_SIZE - stringWidth(caption, _REGULAR, 8)) / 2
    _draw_line(canvas, caption, caption_x, top - QR_SIZE - 2 * mm, _REGULAR, 8, _MUTED)
    return top - QR_SIZE - 4 * mm


def _draw_qr(canvas: Canvas, payload: str, left: float, bottom: float, size: float) -> None:
    """The QR code, encoded once by reportlab's own encoder and drawn as one path of dark runs.

    reportlab's QrCodeWidget encodes twice (for its bounds, then to draw) and makes a shape
    object per run of modules; drawing the runs straight onto the canvas renders the same
    code several times faster.
    """
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(payload)
    code.make()
    count = code.getModuleCount()
    box = size / (count + 2 * _QR_QUIET_ZONE)
    path = canvas.beginPath()
    for row_index, row in enumerate(code.modules):
        column = 0
        for dark, run in itertools.groupby(bool(module) for module in row):
            width = sum(1 for _ in run)
            if dark:
                x = left + (column + _QR_QUIET_ZONE) * box
                y = bottom + size - (row_index + _QR_QUIET_ZONE + 1) * box
                path.rect(x, y, width * box, box)
            column += width
    canvas.setFillColor(_QR_INK)
    canvas.drawPath(path, stroke=0, fill=1)


def _draw_code_box(canvas: Canvas, code: str, top: float) -> None:
    height = 24 * mm
    canvas.setFillColor(_CODE_BOX)
    canvas.roundRect(MARGIN, top - height, CONTENT_WIDTH, height, 3 * mm, stroke=0, fill=1)
    label = "TICKET CODE"
    _draw_centered(canvas, label, top - 6 * mm, _BOLD, 8, _MUTED)
    _draw_centered(canvas, format_ticket_code(code), top - 17 * mm, _MONO, 26, _INK)


def _draw_footer(canvas: Canvas) -> None:
    notice = (
        "Show this page, printed or on a screen, at the entrance. Each ticket admits one "
        "person once: the first scan checks it in, so keep the code to yourself."
    )
    lines = _wrap(notice, _REGULAR, 8.5, CONTENT_WIDTH)
    baseline = MARGIN + (len(lines) - 1) * 11
    for line in lines:
        _draw_line(canvas, line, MARGIN, baseline, _REGULAR, 8.5, _MUTED)
        baseline -= 11


def _draw_field(
    canvas: Canvas,
    label: str,
    values: list[tuple[str, str, float, int]],
    left: float,
    top: float,
    width: float,
) -> float:
    """Draw a small label over its values (text, font, size, max lines); return the bottom."""
    baseline = top - 8
    _draw_line(canvas, label, left, baseline, _BOLD, 8, _MUTED)
    for text, font, size, max_lines in values:
        for line in _clip(_wrap(text, font, size, width), font, size, width, max_lines):
            baseline -= size * 1.3
            _draw_line(canvas, line, left, baseline, font, size, _INK)
    return baseline - 3


def _draw_centered(canvas: Canvas, text: str, baseline: float, font: str, size: float, color) -> None:
    left = (PAGE_WIDTH - stringWidth(text, font, size)) / 2
    _draw_line(canvas, text, left, baseline, font, size, color)


def _draw_line(
    canvas: Canvas,
    text: str,
    left: float,
    baseline: float,
    font: str,
    size: float,
    color,
) -> None:
    canvas.setFillColor(color)
    canvas.setFont(font, size)
    canvas.drawString(left, baseline, text)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break text into lines no wider than width, cutting words too long for any line."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        for piece in _split_word(word, font, size, width):
            candidate = f"{current} {piece}" if current else piece
            if stringWidth(candidate, font, size) <= width:
                current = candidate
            else:
                lines.append(current)
                current = piece
    if current:
        lines.append(current)
    return lines


def _clip(lines: list[str], font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Keep max_lines, ending the last with an ellipsis if any were dropped.

    Losing the end of an absurdly long name is better than drawing over the QR code or
    off the page.
    """
    if len(lines) <= max_lines:
        return lines
    last = lines[max_lines - 1]
    while last and stringWidth(last + _ELLIPSIS, font, size) > width:
        last = last[:-1]
    return lines[: max_lines - 1] + [last.rstrip() + _ELLIPSIS]


def _split_word(word: str, font: str, size: float, width: float) -> list[str]:
    pieces = []
    piece = ""
    for char in word:
        if piece and stringWidth(piece + char, font, size) > width:
            pieces.append(piece)
            piece = char
        else:
            piece += char
    return pieces + [piece]
