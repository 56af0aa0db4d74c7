"""Helpers for tests of the booking path: ask as a customer would, drain as a worker would."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select, update

from core import runtime
from core.booking_queue import booking_queue
from core.inventory import Line
from core.models import Booking, BookingLine, Event, TicketType, utcnow
from core.services import allocation, bookings


def ask(
    user, event, quantity: int = 1, join_waitlist: bool = False, key: str | None = None, ticket_type=None
) -> uuid.UUID:
    ticket_type = ticket_type or event.ticket_types[0]
    items = (Line(ticket_type.id, quantity),)
    result = bookings.request_booking(
        runtime.database(), user.id, bookings.BookingAsk(event.id, items, join_waitlist), key, session_id="s"
    )
    return result["id"]


def drain(event) -> allocation.DrainReport:
    return allocation.drain_event_queue(runtime.database(), event.id)


def statuses(db, event) -> dict[uuid.UUID, str]:
    with db.unit_of_work() as uow:
        return dict(
            uow.session.execute(select(Booking.id, Booking.status).where(Booking.event_id == event.id)).all()
        )


def load(db, booking_id) -> Booking:
    with db.unit_of_work() as uow:
        return uow.session.get(Booking, booking_id)


def counters(db, event) -> dict:
    """The inventory counters next to what the bookings say they should be."""
    with db.unit_of_work() as uow:
        session = uow.session
        tt = session.scalars(select(TicketType).where(TicketType.event_id == event.id)).all()
        ev = session.get(Event, event.id)

        def booked(status):
            return session.scalar(
                select(func.coalesce(func.sum(BookingLine.quantity), 0))
                .join(Booking, Booking.id == BookingLine.booking_id)
                .where(Booking.event_id == event.id, Booking.status == status)
            )

        return {
            "held": sum(t.held for t in tt), "sold": sum(t.sold for t in tt), "event_held": ev.held,
            "event_sold": ev.sold, "booked_held": booked("held"), "booked_sold": booked("confirmed"),
        }  # fmt: skip


def assert_counters_agree(db, event) -> dict:
    c = counters(db, event)
    assert c["held"] == c["event_held"] == c["booked_held"], c
    assert c["sold"] == c["event_sold"] == c["booked_sold"], c
    return c


def queue_length(event) -> int:
    return booking_queue().queue_length(event.id)


def end_holds_now(db, booking_ids) -> None:
    """Move the holds' end into the past, as if their time had run out."""
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Booking)
            .where(Booking.id.in_(booking_ids))
            .values(hold_expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        uow.commit()


def issue_tickets(db, booking_ids) -> list[uuid.UUID]:
    """The ticket job's work, in a transaction of its own."""
    from core.services import tickets

    with db.unit_of_work() as uow:
        issued = tickets.issue_tickets(uow, [str(booking_id) for booking_id in booking_ids])
        uow.commit()
    return issued
