"""What follows a cancellation, written once: the booking's tickets voided, what is left of its
payment refunded, a released hold's checkout closed at the provider, and the waitlist served
with the tickets that came back.

Both run in the caller's transaction, under the event's inventory lock, for a customer's or an
organizer's cancellation (`core.services.bookings.cancel_booking`) and for the bookings of a
cancelled event (`core.services.event_cancellation`, where the waitlist has nothing to get:
sales are closed).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from core import ticket_lifecycle
from core.db import UnitOfWork
from core.inventory import Inventory, Line
from core.lifecycle import cancel, cancel_part
from core.models import Booking, Refund, Ticket
from core.seating import engine as seats
from core.services import follow_ups, refunds
from core.services.waitlist import promote_waitlist
from core.statuses import BookingStatus, RefundReason


def cancel_bookings(
    uow: UnitOfWork, inventory: Inventory, bookings: Sequence[Booking], now: dt.datetime,
    reason: RefundReason | None,
) -> list[Refund]:  # fmt: skip
    """Cancel the bookings (`core.lifecycle.cancel`) and do what follows; returns the refunds
    queued (what was left of each payment)."""
    held = [booking for booking in bookings if booking.status == BookingStatus.HELD]
    for booking in bookings:
        cancel(booking, inventory, now, reason)
    ticket_lifecycle.void_tickets_of_bookings(uow, [booking.id for booking in bookings])
    queued = refunds.queue_booking_refunds(uow, bookings, reason)
    follow_ups.holds_released(uow, held)
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, now))
    return queued


def give_back_tickets(
    uow: UnitOfWork, inventory: Inventory, booking: Booking, tickets: Sequence[Ticket],
    reason: RefundReason | None, now: dt.datetime,
) -> int:  # fmt: skip
    """Some of a confirmed booking's tickets given back (`core.lifecycle.cancel_part`): they are
    voided, their seats released, their price refunded, the waitlist served. Returns the price given back."""
    released = Counter(ticket.ticket_type_id for ticket in tickets)
    amount = cancel_part(booking, inventory, [Line(tt, n) for tt, n in released.items()], now)
    seats.release_tickets(inventory, [ticket.id for ticket in tickets], now)
    ticket_lifecycle.void_tickets(uow, [ticket.id for ticket in tickets])
    part = "+".join(sorted(str(ticket.id) for ticket in tickets))
    refunds.queue_partial_refund(uow, booking, amount, reason, part)
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, now))
    return amount
