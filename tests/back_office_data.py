"""Rows for back-office tests, written straight to the database: a list or an export reads
rows, and how they came to be (the queue, the drainer) has tests of its own."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from core.models import Booking, BookingLine, Event, Payment, Ticket, TicketType, utcnow
from core.ticket_signing import new_ticket_code

_seq = itertools.count(1)


def add_booking(db, event, user, status: str = "confirmed", *, quantity: int = 1, ticket_type=None,
                requested_at: dt.datetime | None = None, payment_status: str | None = None,
                tickets: bool = False) -> Booking:  # fmt: skip
    ticket_type = ticket_type or event.ticket_types[0]
    now = utcnow()
    requested_at = requested_at or now
    with db.unit_of_work() as uow:
        booking = Booking(
            id=uuid.uuid4(), user_id=user.id, event_id=event.id, status=status, queue_seq=next(_seq),
            total=ticket_type.price * quantity, currency=ticket_type.currency, requested_at=requested_at,
            decided_at=requested_at, hold_expires_at=now + dt.timedelta(minutes=10) if status == "held" else None,
            confirmed_at=requested_at if status == "confirmed" else None,
        )  # fmt: skip
        booking.lines.append(
            BookingLine(ticket_type_id=ticket_type.id, quantity=quantity, unit_price=ticket_type.price)
        )
        uow.session.add(booking)
        if status in ("held", "confirmed"):  # the counters agree with the rows, as the engine keeps them
            counted = "held" if status == "held" else "sold"
            for row in (uow.session.get(Event, event.id), uow.session.get(TicketType, ticket_type.id)):
                setattr(row, counted, getattr(row, counted) + quantity)
        if payment_status:
            uow.session.add(Payment(booking_id=booking.id, provider="local", amount=booking.total,
                                    currency=booking.currency, status=payment_status,
                                    idempotency_key=f"pay-{booking.id}"))  # fmt: skip
        if tickets:
            for _ in range(quantity):
                uow.session.add(Ticket(booking_id=booking.id, event_id=event.id, ticket_type_id=ticket_type.id,
                                       code=new_ticket_code(), qr_payload="x",
                                       attendee_name=user.name, status="valid"))  # fmt: skip
        uow.commit()
        return booking
