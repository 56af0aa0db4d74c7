from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pypdfium2
import pytest
import zxingcpp

from core.ticket_pdf import (
    MARGIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    TicketSheet,
    format_event_time,
    render_tickets_pdf,
)
from core.ticket_signing import TicketClaims, TicketSigner, verify_ticket_payload
from tests.pdf_readback import read_pdf_pages

SIGNER = TicketSigner.from_seed(bytes(range(32)))
ISSUED_AT = 1_800_000_000


def signed_sheet(*, code, event_id, ticket_id, **fields):
    payload = SIGNER.sign(TicketClaims(code, event_id, ticket_id, ISSUED_AT))
    return TicketSheet(code=code, qr_payload=payload, **fields)


@pytest.fixture
def paris_ticket():
    return signed_sheet(
        code="7KQ2M9XZC4HT0VBN",
        event_id="0190a3f2-6c1e-7d4b-9a51-2f1c3e5d7b90",
        ticket_id="0190a3f2-6c1f-7e2a-8b3c-4d5e6f708192",
        event_title="Orchestre de Paris: Ravel, Debussy and Boulanger",
        starts_at=datetime(2027, 3, 14, 18, 30, tzinfo=UTC),
        ends_at=datetime(2027, 3, 14, 21, 0, tzinfo=UTC),
        timezone="Europe/Paris",
        venue="Philharmonie de Paris",
        address="221 Avenue Jean Jaurès, 75019 Paris, France",
        attendee_name="Zoë Martin-Dupont",
        ticket_type="Category 1, stalls",
        price_minor=2500,
        currency="EUR",
        booking_reference="BKG-7Q4M2X",
    )


@pytest.fixture
def tokyo_ticket():
    # Given in New York time on purpose: the page must show Tokyo time, past midnight.
    new_york = timezone(timedelta(hours=-4))
    return signed_sheet(
        code="ABCDEFGHJKMNPQRS",
        event_id="0190a3f2-7000-7abc-8def-0123456789ab",
        ticket_id="0190a3f2-7001-7abc-8def-0123456789ab",
        event_title="Late Jazz at the Blue Note",
        starts_at=datetime(2027, 3, 14, 7, 0, tzinfo=new_york),
        ends_at=datetime(2027, 3, 14, 12, 30, tzinfo=new_york),
        timezone="Asia/Tokyo",
        venue="Blue Note Tokyo",
        address="6-3-16 Minami-Aoyama, Minato-ku, Tokyo",
        attendee_name="Kenji Watanabe",
        ticket_type="Counter seat",
        price_minor=8000,
        currency="JPY",
        booking_reference="BKG-9ZT3WD",
    )


def flat(text: str) -> str:
    """Collapse line breaks and spaces: wrapping may break a field anywhere."""
    return " ".join(text.split())


def test_each_ticket_gets_its_own_page_with_every_field(paris_ticket, tokyo_ticket):
    pages = read_pdf_pages(render_tickets_pdf([paris_ticket, tokyo_ticket]))

    assert len(pages) == 2
    paris, tokyo = flat(pages[0].text), flat(pages[1].text)
    for expected in [
        "Orchestre de Paris: Ravel, Debussy and Boulanger",
        "Sunday 14 March 2027, 19:30 – 22:00 (Europe/Paris)",
        "Philharmonie de Paris",
        "221 Avenue Jean Jaurès, 75019 Paris, France",
        "Zoë Martin-Dupont",
        "Category 1, stalls",
        "EUR 25.00",
        "BKG-7Q4M2X",
        "7KQ2-M9XZ-C4HT-0VBN",
        "Ticket 1 of 2",
    ]:
        assert expected in paris
    for expected in [
        "Late Jazz at the Blue Note",
        "Sunday 14 March 2027, 20:00 – Monday 15 March 2027, 01:30 (Asia/Tokyo)",
        "Blue Note Tokyo",
        "6-3-16 Minami-Aoyama, Minato-ku, Tokyo",
        "Kenji Watanabe",
        "Counter seat",
        "JPY 8,000",
        "BKG-9ZT3WD",
        "ABCD-EFGH-JKMN-PQRS",
        "Ticket 2 of 2",
    ]:
        assert expected in tokyo
    assert "ABCD-EFGH-JKMN-PQRS" not in paris
    assert "7KQ2-M9XZ-C4HT-0VBN" not in tokyo


def test_each_page_carries_a_scannable_qr_of_its_own_signed_payload(
    paris_ticket, tokyo_ticket
):
    pages = read_pdf_pages(render_tickets_pdf([paris_ticket, tokyo_ticket]))

    assert [page.qr_texts for page in pages] == [
        [paris_ticket.qr_payload],
        [tokyo_ticket.qr_payload],
    ]
    paris_claims = verify_ticket_payload(pages[0].qr_texts[0], SIGNER.public_key)
    tokyo_claims = verify_ticket_payload(pages[1].qr_texts[0], SIGNER.public_key)
    assert paris_claims == TicketClaims(
        "7KQ2M9XZC4HT0VBN",
        "0190a3f2-6c1e-7d4b-9a51-2f1c3e5d7b90",
        "0190a3f2-6c1f-7e2a-8b3c-4d5e6f708192",
        ISSUED_AT,
    )
    assert tokyo_claims.code == "ABCDEFGHJKMNPQRS"
    assert tokyo_claims.event_id == "0190a3f2-7000-7abc-8def-0123456789ab"


def test_qr_still_scans_from_a_low_resolution_rendering(paris_ticket):
    # 72 dpi: well under what any printer or phone camera delivers.
    pages = read_pdf_pages(render_tickets_pdf([paris_ticket]), scale=1.0)
    assert pages[0].qr_texts == [paris_ticket.qr_payload]


def test_a_free_ticket_says_free(paris_ticket):
    pages = read_pdf_pages(render_tickets_pdf([replace(paris_ticket, price_minor=0)]))
    assert "PRICE Free" in flat(pages[0].text)
    assert "EUR 0.00" not in pages[0].text


def test_the_same_tickets_give_the_same_bytes(paris_ticket, tokyo_ticket):
    assert render_tickets_pdf([paris_ticket, tokyo_ticket]) == render_tickets_pdf(
        [paris_ticket, tokyo_ticket]
    )


def test_overlong_text_stays_on_the_page_and_off_the_qr_code(paris_ticket):
    sheet = replace(
        paris_ticket,
        event_title="The Extraordinarily Long Annual Festival of " * 12 + "X" * 150,
        venue="Grande Salle Pierre Boulez " * 8,
        address="Somewhere-very-far-along-an-endless-road-" * 6,
        attendee_name="Maximiliana" * 20,
        ticket_type="Premium " * 30,
        booking_reference="REF" * 60,
    )
    pdf = render_tickets_pdf([sheet])
    page = pypdfium2.PdfDocument(pdf)[0]
    boxes = char_boxes(page)
    qr_left, qr_bottom, qr_right, qr_top = qr_rectangle(page)

    assert len(read_pdf_pages(pdf)) == 1
    for left, bottom, right, top in boxes:
        assert MARGIN - 1 <= left and right <= PAGE_WIDTH - MARGIN + 1
        assert MARGIN - 5 <= bottom and top <= PAGE_HEIGHT - MARGIN + 1
        overlaps_qr = (
            left < qr_right and right > qr_left and bottom < qr_top and top > qr_bottom
        )
        assert not overlaps_qr
    text = flat(read_pdf_pages(pdf)[0].text)
    assert "7KQ2-M9XZ-C4HT-0VBN" in text
    assert "The Extraordinarily Long Annual Festival of" in text
    assert "…" in text


def char_boxes(page):
    text_page = page.get_textpage()
    boxes = [text_page.get_charbox(index) for index in range(text_page.count_chars())]
    return [box for box in boxes if box[2] > box[0]]


def qr_rectangle(page, scale=2.0):
    """Where the QR code is on the page, in PDF points, as the decoder found it."""
    (code,) = zxingcpp.read_barcodes(
        page.render(scale=scale).to_pil(), formats=zxingcpp.BarcodeFormat.QRCode
    )
    corners = [
        code.position.top_left,
        code.position.top_right,
        code.position.bottom_left,
        code.position.bottom_right,
    ]
    xs = [corner.x / scale for corner in corners]
    ys = [PAGE_HEIGHT - corner.y / scale for corner in corners]
    return min(xs), min(ys), max(xs), max(ys)


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "zone", "expected"),
    [
        (
            datetime(2027, 3, 13, 18, 30, tzinfo=UTC),
            None,
            "Europe/Paris",
            "Saturday 13 March 2027, 19:30 (Europe/Paris)",
        ),
        (
            # Summer time in Paris: the offset is two hours, not one.
            datetime(2027, 7, 1, 18, 0, tzinfo=UTC),
            datetime(2027, 7, 1, 20, 15, tzinfo=UTC),
            "Europe/Paris",
            "Thursday 1 July 2027, 20:00 – 22:15 (Europe/Paris)",
        ),
        (
            datetime(2027, 12, 31, 23, 0, tzinfo=UTC),
            datetime(2028, 1, 1, 4, 0, tzinfo=UTC),
            "America/New_York",
            "Friday 31 December 2027, 18:00 – 23:00 (America/New_York)",
        ),
    ],
)
def test_format_event_time_uses_the_event_zone(starts_at, ends_at, zone, expected):
    assert format_event_time(starts_at, ends_at, zone) == expected


def test_no_tickets_is_an_error():
    with pytest.raises(ValueError, match="no tickets"):
        render_tickets_pdf([])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"starts_at": datetime(2027, 3, 14, 19, 30)}, "timezone-aware"),
        ({"ends_at": datetime(2027, 3, 14, 22, 0)}, "timezone-aware"),
        ({"ends_at": datetime(2027, 3, 14, 18, 0, tzinfo=UTC)}, "before starts_at"),
        ({"timezone": "Europe/Atlantis"}, "unknown time zone"),
        ({"timezone": "../etc/passwd"}, "unknown time zone"),
        ({"price_minor": -1}, "non-negative"),
        ({"price_minor": 25.0}, "non-negative"),
        ({"currency": "EURO"}, "ISO 4217"),
        ({"qr_payload": ""}, "QR payload"),
    ],
)
def test_a_sheet_that_cannot_be_printed_truthfully_is_refused(
    paris_ticket, changes, message
):
    with pytest.raises(ValueError, match=message):
        replace(paris_ticket, **changes)
