"""The waitlist: first come, first served, by the order the API accepted the requests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import func, select

from core.booking_rules import sales_closed
from core.db import UnitOfWork
from core.inventory import Inventory, Line
from core.models import Booking

SCAN_CHUNK = 500


def promote_waitlist(uow: UnitOfWork, inventory: Inventory, now: dt.datetime) -> list[Booking]:
    """Give free tickets to the earliest waitlisted bookings that fit, each with a fresh hold.

    Must run inside the transaction that locked `inventory`. An entry that does not fit (it
    wants more than is free) keeps its place and the next one is tried.
    """
    promoted: list[Booking] = []
    if inventory.free() == 0 or sales_closed(inventory.event, now):
        return promoted
    after_seq = -1
    while inventory.free() > 0:
        chunk = uow.session.scalars(
            select(Booking)
            .where(
                Booking.event_id == inventory.event.id,
                Booking.status == "waitlisted",
                Booking.queue_seq > after_seq,
            )
            .order_by(Booking.queue_seq)
            .limit(SCAN_CHUNK)
        ).all()
        if not chunk:
            break
        for booking in chunk:
            if inventory.free() == 0:
                break
            _promote_if_it_fits(booking, inventory, now, promoted)
        after_seq = chunk[-1].queue_seq
    return promoted


def _promote_if_it_fits(
    booking: Booking, inventory: Inventory, now: dt.datetime, promoted: list[Booking]
) -> None:
    lines = [Line(line.ticket_type_id, line.quantity) for line in booking.lines]
    if not inventory.fits(lines):
        return
    for line in booking.lines:  # the price is fixed when the hold is made, not when the wait began
        line.unit_price = inventory.price(Line(line.ticket_type_id, line.quantity))
    booking.total = sum(line.unit_price * line.quantity for line in booking.lines)
    if booking.total == 0:
        inventory.sell(lines)
        booking.status, booking.confirmed_at = "confirmed", now
    else:
        inventory.hold(lines)
        booking.status = "held"
        booking.hold_expires_at = now + dt.timedelta(seconds=inventory.event.hold_seconds)
    booking.decided_at = now
    promoted.append(booking)


def waitlist_position(uow: UnitOfWork, booking: Booking) -> int:
    return uow.session.scalar(
        select(func.count()).where(
            Booking.event_id == booking.event_id,
            Booking.status == "waitlisted",
            Booking.queue_seq <= booking.queue_seq,
        )
    )


def waitlist_query(event_id: uuid.UUID):
    """The event's waitlist in the order it will be served."""
    return (
        select(Booking)
        .where(Booking.event_id == event_id, Booking.status == "waitlisted")
        .order_by(Booking.queue_seq)
    )


def waitlist_entries(bookings: Iterable[Booking], first_position: int) -> list[dict]:
    """Rows of the waitlist as its organizers see it, numbered from `first_position`."""
    return [
        {
            "position": position,
            "booking_id": booking.id,
            "user_id": booking.user_id,
            "customer_name": booking.user.name,
            "customer_email": booking.user.email,
            "quantity": sum(line.quantity for line in booking.lines),
            "requested_at": booking.requested_at,
        }
        for position, booking in enumerate(bookings, start=first_position)
    ]
