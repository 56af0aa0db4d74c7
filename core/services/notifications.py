"""Which email each customer gets about a booking, composed from the templates and sent over SMTP.

Each (kind, booking) is sent at most once: a marker in Redis is set after a successful send and
checked before the next, and the Message-ID is stable so a receiving server can spot a repeat.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import email_templates, runtime
from core.email_templates import BookingRecipient
from core.mail import MailDeliveryError, SmtpSettings, send_message, stable_message_id
from core.models import Booking
from core.services import payments, refunds

log = logging.getLogger(__name__)
SENT_MARKER_TTL = 30 * 24 * 3600
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "ISK", "VND"})


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


def booking_reference(booking_id: uuid.UUID) -> str:
    """A short reference a person can read out on the phone (the random tail of the id)."""
    return uuid.UUID(str(booking_id)).hex[-10:].upper()


def local_time(moment: dt.datetime, timezone: str) -> str:
    local = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    return f"{local:%A %d %B %Y, %H:%M} ({timezone})"


def format_money(amount: int, currency: str) -> str:
    """Minor units for reading: 2500 EUR is "€25.00", 2500 JPY is "2500 JPY"."""
    currency = currency.upper()
    value = str(amount) if currency in ZERO_DECIMAL_CURRENCIES else f"{amount / 100:.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency}"


@dataclass(frozen=True)
class _PaymentFacts:
    """What the payment emails say beyond the booking: where to pay, what was given back."""

    checkout_urls: dict
    refunds: dict


def _recipient(booking: Booking) -> BookingRecipient:
    return BookingRecipient(
        email=booking.user.email,
        name=booking.user.name,
        event_title=booking.event.title,
        booking_reference=booking_reference(booking.id),
    )


def _compose(kind: str, booking: Booking, facts: _PaymentFacts, message_id: str):
    base = runtime.settings().public_base_url
    recipient = _recipient(booking)
    if kind == "waitlist_promoted":
        return email_templates.waitlist_promoted(
            recipient,
            hold_expires_at=local_time(booking.hold_expires_at, booking.event.timezone),
            checkout_url=facts.checkout_urls.get(booking.id, f"{base}/api/v1/bookings/{booking.id}"),
            message_id=message_id,
        )
    if kind == "hold_expired":
        return email_templates.hold_expired(
            recipient, event_url=f"{base}/api/v1/events/{booking.event_id}", message_id=message_id
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


def send_booking_emails(kind: str, booking_ids: list[str]) -> int:
    """Send `kind` to each booking's customer; raises a retryable error if any send should be
    tried again (those already sent are not sent twice). Returns how many were sent now."""
    redis = runtime.redis_client()
    settings = smtp_settings()
    with runtime.database().unit_of_work() as uow:
        bookings = uow.session.scalars(
            select(Booking)
            .where(Booking.id.in_([uuid.UUID(str(b)) for b in booking_ids]))
            .options(selectinload(Booking.user), selectinload(Booking.event))
        ).all()
        ids = [booking.id for booking in bookings]
        facts = _PaymentFacts(payments.checkout_links(uow, ids), refunds.refund_totals(uow, ids))
    sent, retry_later = 0, []
    for booking in bookings:
        marker = f"mail:sent:{kind}:{booking.id}"
        if redis.exists(marker):
            continue
        message = _compose(
            kind, booking, facts, stable_message_id(kind, str(booking.id), settings.sender_domain)
        )
        try:
            send_message(settings, message)
        except MailDeliveryError as error:
            if error.retryable:
                retry_later.append(str(booking.id))
            else:
                log.warning("giving up %s mail for booking %s: %s", kind, booking.id, error)
            continue
        redis.set(marker, "1", ex=SENT_MARKER_TTL)
        sent += 1
    if retry_later:
        raise MailDeliveryError(f"{len(retry_later)} {kind} mail(s) to retry", retryable=True)
    return sent
