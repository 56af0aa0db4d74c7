"""How fast tickets render: PDF pages with a QR code drawn by reportlab, per second.

The reference, measured in the same run, is a one-page PDF holding the same text without the
QR code: the ratio says what the code and the layout cost on top of reportlab itself.

    python -m bench.tickets_render [--tickets 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from io import BytesIO

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from bench import report, servers
from core.ticket_pdf import TicketSheet, render_tickets_pdf
from core.ticket_signing import TicketClaims, TicketSigner, new_ticket_code


def sheets(count: int) -> list[TicketSheet]:
    signer = TicketSigner.from_secret("benchmark")
    starts = dt.datetime(2027, 6, 21, 19, 0, tzinfo=dt.UTC)
    result = []
    for n in range(count):
        code = new_ticket_code()
        payload = signer.sign(TicketClaims(code, str(uuid.uuid4()), str(uuid.uuid4()), 1_900_000_000))
        result.append(TicketSheet(event_title="Midsummer Night Concert", starts_at=starts,
                                  ends_at=starts + dt.timedelta(hours=3), timezone="Europe/Stockholm",
                                  venue="Concert Hall", address="Hötorget 8, Stockholm", attendee_name=f"Guest {n}",
                                  ticket_type="Standard", price_minor=45000, currency="SEK",
                                  booking_reference="0123456789", code=code, qr_payload=payload))  # fmt: skip
    return result


def plain_page(ticket: TicketSheet) -> bytes:
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    for line, text in enumerate((ticket.event_title, ticket.venue, ticket.address, ticket.attendee_name,
                                 ticket.ticket_type, ticket.booking_reference, ticket.code)):  # fmt: skip
        canvas.drawString(72, 760 - 20 * line, text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def rate(render, items) -> float:
    started = time.perf_counter()
    for item in items:
        render(item)
    return len(items) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tickets_render", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tickets", type=int, default=500)
    args = parser.parse_args(argv)
    tickets = sheets(args.tickets)
    rate(lambda t: render_tickets_pdf([t]), tickets[:20])  # warm-up: fonts and imports
    reference = rate(plain_page, tickets)
    single = rate(lambda t: render_tickets_pdf([t]), tickets)
    started = time.perf_counter()
    render_tickets_pdf(tickets)
    multi = args.tickets / (time.perf_counter() - started)
    figures = [
        report.Figure("tickets/s, one PDF per ticket (ref: plain text page)", single, "1/s", reference),
        report.Figure(
            f"tickets/s, one PDF of {args.tickets} pages (ref: plain text page)", multi, "1/s", reference
        ),
    ]
    report.print_table(figures, "Ticket rendering")
    path = report.write_result("tickets_render", figures, details={"tickets": args.tickets})
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


if __name__ == "__main__":
    main()
