"""A booking as its signed link shows it, and what the link's holder may do with it.

Every function first checks the link (`core.booking_links.check_token`), then acts as the
booking's customer through the same services the API uses: the page has no rules of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core import booking_links
from core.booking_links import BookingLink, LinkAction
from core.db import UnitOfWork
from core.errors import Conflict, NotFound
from core.formatting import booking_reference, local_time
from core.models import Booking, Event, User, utcnow
from core.money import format_money
from core.services import bookings, tickets
from core.statuses import BookingStatus


@dataclass(frozen=True)
class BookingPage:
    """What the page shows: the booking's API view, written out for a person, and its actions."""

    booking: dict  # as `GET /bookings/{id}` answers it
    link: BookingLink
    reference: str
    event_title: str
    event_when: str
    total: str | None
    hold_expires_at: str | None  # in the event's time zone
    actions: frozenset[LinkAction]

    @property
    def checkout_url(self) -> str | None:
        return (self.booking.get("payment") or {}).get("checkout_url")


def read_booking_page(uow: UnitOfWork, booking_id: uuid.UUID, token: str) -> BookingPage:
    booking_links.check_token(booking_id, token, utcnow())
    queued = bookings.queued_booking_view(booking_id)
    if queued is not None:
        view = queued[2]
    else:
        view = bookings.booking_view(uow, bookings.get_booking(uow, booking_id))
    event = uow.session.get(Event, view["event_id"])
    now = utcnow()
    total = view.get("total")
    return BookingPage(
        booking=view,
        link=BookingLink(booking_id, token),
        reference=booking_reference(booking_id),
        event_title=event.title,
        event_when=local_time(event.starts_at, event.timezone),
        total=format_money(total, view["currency"]) if total is not None else None,
        hold_expires_at=local_time(view["hold_expires_at"], event.timezone)
        if view.get("hold_expires_at")
        else None,
        actions=booking_links.allowed_actions(
            view["status"],
            checkout_url=(view.get("payment") or {}).get("checkout_url"),
            total=total,
            refund_until=event.refund_until,
            now=now,
        ),
    )


def booking_tickets_pdf(uow: UnitOfWork, booking_id: uuid.UUID, token: str) -> tuple[bytes, str]:
    """The confirmed booking's tickets as a PDF, and the file's name."""
    booking_links.check_token(booking_id, token, utcnow())
    booking = _stored_booking(uow, booking_id)
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(f"A {booking.status} booking has no tickets.", name="no_tickets")
    return tickets.booking_pdf(uow, booking), f"tickets-{booking_reference(booking.id)}.pdf"


def cancel_booking_by_link(uow: UnitOfWork, booking_id: uuid.UUID, token: str) -> str:
    """Cancel as the customer would (their refund period applies), in the caller's unit of work,
    which the caller commits; returns the new status."""
    booking_links.check_token(booking_id, token, utcnow())
    booking = uow.session.get(Booking, booking_id)
    queued = None if booking is not None else bookings.queued_booking_view(booking_id)
    if booking is None and queued is None:
        raise NotFound("No such booking.")
    customer = uow.session.get(User, booking.user_id if booking is not None else queued[0])
    return bookings.cancel_booking(uow, customer, booking_id).status


def awaits_confirmation(uow: UnitOfWork, booking_id: uuid.UUID | str) -> bool:
    """Whether a booking whose checkout was paid is still held: its payment is on its way to
    it (the provider's event is processed by a task), so a page saying so should look again."""
    booking = uow.session.get(Booking, uuid.UUID(str(booking_id)))
    return booking is not None and booking.status == BookingStatus.HELD


def _stored_booking(uow: UnitOfWork, booking_id: uuid.UUID) -> Booking:
    booking = uow.session.get(Booking, booking_id)
    if booking is None:
        raise Conflict("The request is still in the queue.", name="not_decided_yet")
    return booking
