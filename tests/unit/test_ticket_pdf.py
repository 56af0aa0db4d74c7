"""The PDF ticket, read back as a person and a scanner would."""

from __future__ import annotations

import datetime as dt
import uuid

from core.ticket_pdf import TicketSheet, render_tickets_pdf
from core.ticket_signing import (
    TicketClaims,
    TicketSigner,
    format_ticket_code,
    new_ticket_code,
    verify_ticket_payload,
)
from tests.pdf_readback import read_pdf

SIGNER = TicketSigner.from_secret("pdf tests")
STARTS = dt.datetime(2027, 3, 14, 18, 30, tzinfo=dt.UTC)


def sheet(attendee: str, ticket_type: str = "Standard", price: int = 2500, title: str = "Night at the Opera"):
    code = new_ticket_code()
    payload = SIGNER.sign(TicketClaims(code, str(uuid.uuid4()), str(uuid.uuid4()), 1_900_000_000))
    return TicketSheet(event_title=title, starts_at=STARTS, ends_at=STARTS + dt.timedelta(hours=3),
                       timezone="Europe/Paris", venue="Grand Hall", address="1 Opera Square, Paris",
                       attendee_name=attendee, ticket_type=ticket_type, price_minor=price, currency="EUR",
                       booking_reference="A1B2C3D4E5", code=code, qr_payload=payload)  # fmt: skip


def test_each_ticket_is_a_page_with_every_fact_and_a_scannable_qr():
    sheets = [sheet("Ada Lovelace"), sheet("Charles Babbage", "VIP", 9000)]
    pages = read_pdf(render_tickets_pdf(sheets))
    assert len(pages) == 2
    for page, ticket in zip(pages, sheets, strict=True):
        for fact in (ticket.event_title, ticket.attendee_name, ticket.ticket_type, "Grand Hall",
                     "1 Opera Square, Paris", "A1B2C3D4E5", format_ticket_code(ticket.code)):  # fmt: skip
            assert fact in page.text, fact
        assert page.qr_codes == [ticket.qr_payload]
        assert verify_ticket_payload(page.qr_codes[0], SIGNER.public_key).code == ticket.code
    assert "EUR 25.00" in pages[0].text and "EUR 90.00" in pages[1].text


def test_the_time_is_shown_in_the_events_time_zone():
    text = read_pdf(render_tickets_pdf([sheet("Ada")]))[0].text
    assert "19:30" in text and "Europe/Paris" in text  # 18:30 UTC is 19:30 in Paris in March
    assert "March 2027" in text


def test_free_tickets_say_free():
    assert "Free" in read_pdf(render_tickets_pdf([sheet("Ada", price=0)]))[0].text


def test_a_long_title_wraps_and_the_qr_still_scans():
    ticket = sheet(
        "Ada", title="The Extraordinarily Long Annual Gathering of Friends of Symphonic Music " * 3
    )
    [page] = read_pdf(render_tickets_pdf([ticket]))
    assert "Extraordinarily" in page.text
    assert page.qr_codes == [ticket.qr_payload]
