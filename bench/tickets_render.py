"""How fast bookings become PDF tickets, against a plain text-only PDF as a yardstick.

Run from the repository root: ``python -m bench.tickets_render [--count 500]``. Prints
the figures and writes them to ``bench/results/tickets_render.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import reportlab
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from core.money import format_price
from core.ticket_pdf import TicketSheet, format_event_time, render_tickets_pdf
from core.ticket_signing import TicketClaims, TicketSigner, new_ticket_code

RESULTS_PATH = Path(__file__).parent / "results" / "tickets_render.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="tickets to render")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")

    result = run(args.count)
    print_report(result)
    write_result(result, args.output)
    print(f"written to {args.output}")


def run(count: int) -> dict:
    signer = TicketSigner.from_secret("benchmark secret")
    claims = [sample_claims(index) for index in range(count)]
    signing_seconds, payloads = timed(lambda: [signer.sign(claim) for claim in claims])
    sheets = [
        sample_sheet(claim, payload)
        for claim, payload in zip(claims, payloads, strict=True)
    ]

    # One throwaway render first, so font metrics and imports are not charged to a run.
    render_tickets_pdf(sheets[:1])
    single_seconds, single_pdfs = timed(
        lambda: [render_tickets_pdf([sheet]) for sheet in sheets]
    )
    multi_seconds, multi_pdf = timed(lambda: render_tickets_pdf(sheets))
    text_seconds, _ = timed(lambda: [render_text_only_pdf(sheet) for sheet in sheets])

    single_rate = count / single_seconds
    text_rate = count / text_seconds
    return {
        "benchmark": "tickets_render",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tickets": count,
        "signing_per_second": round(count / signing_seconds),
        "single_ticket_pdfs": {
            "seconds": round(single_seconds, 3),
            "tickets_per_second": round(single_rate, 1),
            "mean_bytes": round(sum(map(len, single_pdfs)) / count),
        },
        "one_multi_page_pdf": {
            "seconds": round(multi_seconds, 3),
            "tickets_per_second": round(count / multi_seconds, 1),
            "bytes": len(multi_pdf),
        },
        "reference_text_only_pdfs": {
            "seconds": round(text_seconds, 3),
            "pages_per_second": round(text_rate, 1),
        },
        "ticket_cost_vs_text_only": round(text_rate / single_rate, 2),
        "environment": {
            "python": platform.python_version(),
            "reportlab": reportlab.Version,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }


def timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    outcome = work()
    return time.perf_counter() - started, outcome


def sample_claims(index: int) -> TicketClaims:
    return TicketClaims(
        code=new_ticket_code(),
        event_id="0190a3f2-6c1e-7d4b-9a51-2f1c3e5d7b90",
        ticket_id=str(uuid.uuid4()),
        issued_at=1_800_000_000 + index,
    )


def sample_sheet(claims: TicketClaims, payload: str) -> TicketSheet:
    starts_at = datetime(2027, 3, 13, 18, 30, tzinfo=UTC)
    return TicketSheet(
        event_title="Orchestre de Paris: Ravel, Debussy and Boulanger",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2, minutes=30),
        timezone="Europe/Paris",
        venue="Philharmonie de Paris",
        address="221 Avenue Jean Jaurès, 75019 Paris, France",
        attendee_name=f"Attendee {claims.issued_at % 10_000}",
        ticket_type="Category 1, stalls",
        price_minor=2500,
        currency="EUR",
        booking_reference=f"BKG-{claims.code[:6]}",
        code=claims.code,
        qr_payload=payload,
    )


def render_text_only_pdf(sheet: TicketSheet) -> bytes:
    """The same facts as plain lines of text on one page: the floor for any ticket."""
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.setFont("Helvetica", 12)
    lines = [
        sheet.event_title,
        format_event_time(sheet.starts_at, sheet.ends_at, sheet.timezone),
        sheet.venue,
        sheet.address,
        sheet.attendee_name,
        sheet.ticket_type,
        format_price(sheet.price_minor, sheet.currency),
        sheet.booking_reference,
        sheet.code,
    ]
    for number, line in enumerate(lines):
        canvas.drawString(72, 770 - 20 * number, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def print_report(result: dict) -> None:
    single = result["single_ticket_pdfs"]
    multi = result["one_multi_page_pdf"]
    text = result["reference_text_only_pdfs"]
    environment = result["environment"]
    print(
        f"{result['tickets']} tickets, Python {environment['python']}, "
        f"reportlab {environment['reportlab']}, {environment['cpus']} CPUs"
    )
    print(f"  signing payloads        {result['signing_per_second']:>10,} /s")
    print(
        f"  single-ticket PDFs      {single['tickets_per_second']:>10,.1f} tickets/s "
        f"({single['mean_bytes']:,} bytes each)"
    )
    print(
        f"  one multi-page PDF      {multi['tickets_per_second']:>10,.1f} tickets/s "
        f"({multi['bytes']:,} bytes)"
    )
    print(f"  reference: text only    {text['pages_per_second']:>10,.1f} pages/s")
    print(f"  a ticket costs {result['ticket_cost_vs_text_only']}x a text-only page")


def write_result(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a file.
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    temporary.replace(path)


if __name__ == "__main__":
    main(sys.argv[1:])
