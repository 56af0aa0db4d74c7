"""Which email each customer gets about a booking, composed from the templates and sent over SMTP.

Each (kind, booking) is sent at most once: a marker in Redis is set after a successful send and
checked before the next, and the Message-ID is stable so a receiving server can spot a repeat.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import email_templates, runtime
from core.email_templates import BookingRecipient
from core.mail import MailDeliveryError, SmtpSettings, send_message, stable_message_id
from core.models import Booking

log = logging.getLogger(__name__)
SENT_MARKER_TTL = 30 * 24 * 3600


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


def _recipient(booking: Booking) -> BookingRecipient:
    return BookingRecipient(
        email=booking.user.email,
        name=booking.user.name,
        event_title=booking.event.title,
        booking_reference=booking_reference(booking.id),
    )


def _compose(kind: str, booking: Booking, message_id: str):
    base = runtime.settings().public_base_url
    recipient = _recipient(booking)
    if kind == "waitlist_promoted":
        return email_templates.waitlist_promoted(
            recipient,
            hold_expires_at=local_time(booking.hold_expires_at, booking.event.timezone),
            checkout_url=f"{base}/api/v1/bookings/{booking.id}",
            message_id=message_id,
        )
    if kind == "hold_expired":
        return email_templates.hold_expired(
            recipient, event_url=f"{base}/api/v1/events/{booking.event_id}", message_id=message_id
        )
    raise ValueError(f"unknown booking email {kind!r}")


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
    sent, retry_later = 0, []
    for booking in bookings:
        marker = f"mail:sent:{kind}:{booking.id}"
        if redis.exists(marker):
            continue
        message = _compose(kind, booking, stable_message_id(kind, str(booking.id), settings.sender_domain))
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
