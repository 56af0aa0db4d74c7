"""Which email each customer gets about a booking, composed from the templates and sent over SMTP.

Each (kind, booking) is sent once: a sender first claims it in Redis (so two runs of one task,
even at the same moment, cannot both send), then sets a marker after a successful send; a failed
send gives the claim back for the retry. The Message-ID is stable, so in the one case left — a
worker dying between sending and marking — a receiving server can still spot the repeat.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import booking_links, email_templates, links, metrics, runtime
from core.db import Database
from core.email_templates import BookingRecipient, TicketLine
from core.formatting import booking_reference, local_time
from core.mail import MailDeliveryError, SmtpSettings, send_message, stable_message_id
from core.models import Booking
from core.money import format_money
from core.services import checkouts, refunds, tickets

log = logging.getLogger(__name__)
SENT_MARKER_TTL = 30 * 24 * 3600
# A claim outlives any SMTP timeout, and runs out if its worker died holding it.
CLAIM_SECONDS = 300


def smtp_settings() -> SmtpSettings:
    settings = runtime.settings()
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        security=settings.smtp_security,
        timeout=settings.smtp_timeout,
        sender=settings.mail_sender,
    )


@dataclass(frozen=True)
class _MailFacts:
    """What the emails say beyond the booking: where to pay, what was given back, the tickets."""

    checkout_urls: dict
    refunds: dict
    ticket_pdfs: dict
    ticket_type_names: dict


def _recipient(booking: Booking) -> BookingRecipient:
    return BookingRecipient(
        email=booking.user.email,
        name=booking.user.name,
        event_title=booking.event.title,
        booking_reference=booking_reference(booking.id),
    )


def _compose(kind: str, booking: Booking, facts: _MailFacts, message_id: str):
    recipient = _recipient(booking)
    booking_page = booking_links.link_for(booking).url
    if kind == "waitlist_promoted":
        return email_templates.waitlist_promoted(
            recipient,
            hold_expires_at=local_time(booking.hold_expires_at, booking.event.timezone),
            checkout_url=facts.checkout_urls.get(booking.id, booking_page),
            manage_url=booking_page,
            message_id=message_id,
        )
    if kind == "tickets_issued":
        return _tickets_issued(recipient, booking, facts, message_id, booking_page)
    if kind == "hold_expired":
        return email_templates.hold_expired(
            recipient, event_url=links.EVENT.url(event_id=booking.event_id), message_id=message_id
        )
    refund = facts.refunds.get(booking.id)
    amount = format_money(refund[0], refund[1]) if refund else None
    if kind == "booking_refunded" and refund:
        return email_templates.booking_refunded(
            recipient, amount=amount, reason=refund[2], message_id=message_id
        )
    if kind == "event_cancelled":
        return email_templates.event_cancelled(recipient, refund_amount=amount, message_id=message_id)
    raise ValueError(f"no {kind!r} email for booking {booking.id}")


def _tickets_issued(
    recipient: BookingRecipient, booking: Booking, facts: _MailFacts, message_id: str, booking_page: str
):
    event = booking.event
    names = facts.ticket_type_names
    lines = [
        TicketLine(names[line.ticket_type_id], line.quantity, format_money(line.unit_price, booking.currency))
        for line in booking.lines
    ]
    return email_templates.tickets_issued(
        recipient,
        event_when=local_time(event.starts_at, event.timezone),
        venue=", ".join(part for part in (event.venue, event.address) if part),
        lines=lines,
        total=format_money(booking.total, booking.currency),
        pdf_bytes=facts.ticket_pdfs[booking.id],
        pdf_filename=f"tickets-{recipient.booking_reference}.pdf",
        manage_url=booking_page,
        message_id=message_id,
    )


def _ticket_facts(uow, kind: str, bookings: list[Booking]) -> tuple[dict, dict]:
    """The PDFs (and ticket type names) a tickets email attaches; nothing for other kinds."""
    if kind != "tickets_issued" or not bookings:
        return {}, {}
    names = {}
    for event_id in {booking.event_id for booking in bookings}:
        names.update(tickets.ticket_type_names(uow, event_id))
    return {booking.id: tickets.booking_pdf(uow, booking) for booking in bookings}, names


def send_booking_emails(db: Database, kind: str, booking_ids: list[str], occasion: str = "") -> int:
    """Send `kind` to each booking's customer; raises a retryable error if any send should be
    tried again (those already sent are not sent twice). Returns how many were sent now.

    What the mails say is read in one unit of work on `db`, ended before the first SMTP exchange
    (nothing is written, so nothing is committed). A new `occasion` (an organizer's resend, say)
    is a new message, sent once in its turn."""
    bookings, facts = _bookings_and_facts(db, kind, booking_ids)
    redis, settings = runtime.redis_client(), smtp_settings()
    sent, retry_later = 0, []
    for booking in bookings:
        outcome = _send_once(redis, settings, kind, booking, facts, occasion)
        sent += outcome is _Sent.NOW
        if outcome is _Sent.RETRY:
            retry_later.append(str(booking.id))
    if retry_later:
        raise MailDeliveryError(f"{len(retry_later)} {kind} mail(s) to retry", retryable=True)
    return sent


def _bookings_and_facts(db: Database, kind: str, booking_ids: list[str]) -> tuple[list[Booking], _MailFacts]:
    """The bookings to write to (a tickets mail only for those with valid tickets) and what
    their mails say, read in one unit of work."""
    with db.unit_of_work() as uow:
        bookings = uow.session.scalars(
            select(Booking)
            .where(Booking.id.in_([uuid.UUID(str(b)) for b in booking_ids]))
            .options(selectinload(Booking.user), selectinload(Booking.event))
        ).all()
        ids = [booking.id for booking in bookings]
        if kind == "tickets_issued":
            with_tickets = set(tickets.bookings_with_valid_tickets(uow, ids))
            bookings = [booking for booking in bookings if booking.id in with_tickets]
        facts = _MailFacts(checkouts.checkout_links(uow, ids), refunds.refund_totals(uow, ids),
                           *_ticket_facts(uow, kind, bookings))  # fmt: skip
    return list(bookings), facts


class _Sent(Enum):
    NOW = "now"
    BEFORE = "before"  # sent already, or being sent by another run right now
    RETRY = "retry"
    GIVEN_UP = "given_up"


def _send_once(
    redis, settings: SmtpSettings, kind: str, booking: Booking, facts: _MailFacts, occasion: str
) -> _Sent:
    """Send one booking's mail unless it was sent (or is being sent): claim it, send, mark it
    sent; a failed send gives the claim back."""
    once = f"{kind}:{booking.id}{':' + occasion if occasion else ''}"
    marker, claim = f"mail:sent:{once}", f"mail:claim:{once}"
    if redis.exists(marker) or not redis.set(claim, "1", nx=True, ex=CLAIM_SECONDS):
        return _Sent.BEFORE
    message_id = stable_message_id(
        kind, "-".join(filter(None, (str(booking.id), occasion))), settings.sender_domain
    )
    try:
        send_message(settings, _compose(kind, booking, facts, message_id))
    except MailDeliveryError as error:
        metrics.count_mail(kind, sent=False)
        redis.delete(claim)
        if error.retryable:
            return _Sent.RETRY
        log.warning("giving up %s mail for booking %s: %s", kind, booking.id, error)
        return _Sent.GIVEN_UP
    redis.set(marker, "1", ex=SENT_MARKER_TTL)
    metrics.count_mail(kind, sent=True)
    return _Sent.NOW
