"""The allocation engine's seat steps: what `core.booking_rules.decide` and `core.lifecycle` ask
of the seats, as functions of the locked inventory and the request or booking.

Seats are decided exactly like quotas (docs/seating.md, "Decided by the engine"): in queue
order, in the drainer's transaction, under the event's inventory lock. A request's seats are
chosen when its tickets are found to fit (`seats_fit`) and taken once its counters moved
(`take_seats`); a booking that later gets tickets (a waitlist promotion, a late payment) goes
through `booking_seats_fit` and `follow`, and every booking that gives tickets back releases
exactly its seats through `follow` too. Ticket types that are not seated pass through untouched.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from core.models import Booking
from core.statuses import BookingStatus, RejectionReason

if TYPE_CHECKING:
    from core.booking_requests import BookingRequest
    from core.inventory import Inventory, Line

HELD, CONFIRMED = BookingStatus.HELD, BookingStatus.CONFIRMED
GIVING_BACK = (BookingStatus.EXPIRED, BookingStatus.CANCELLED)


def _seated_lines(inventory: Inventory, lines) -> list[Line]:
    return [line for line in lines if inventory.seated(line.ticket_type_id)]


def seat_refusal(inventory: Inventory, request: BookingRequest) -> RejectionReason | None:
    """A request for chosen seats one of which is not free (taken by an earlier request, blocked,
    or gone with a replaced plan): `seat_unavailable`, never half a booking."""
    if not any(line.seat_ids for line in request.lines):  # best available (or unseated): nothing chosen
        return None
    chosen = [seat_id for line in _seated_lines(inventory, request.lines) for seat_id in line.seat_ids]
    if not chosen:
        return None
    seating = inventory.seating
    if seating is None or not all(seating.is_free(seat_id) for seat_id in chosen):
        return RejectionReason.SEAT_UNAVAILABLE
    return None


def seats_fit(inventory: Inventory, request: BookingRequest) -> bool:
    """Whether the request's seated lines get seats (chosen ones are free: `seat_refusal` came
    first); the seats found are kept for `take_seats`."""
    lines = _seated_lines(inventory, request.lines)
    if not lines:
        return True
    return _plan(inventory, request.booking_id, lines, request.accessible)


def take_seats(inventory: Inventory, request: BookingRequest, status: str) -> None:
    """The admitted request takes the seats `seats_fit` found (assigned as of the transaction's
    start, the moment the drainer decides at); a request with no seated line found none."""
    if inventory.seating_loaded and inventory.seating.planned(request.booking_id):
        inventory.seating.take(request.booking_id, status)


def _plan(inventory: Inventory, booking_id, lines, accessible: bool) -> bool:
    seating = inventory.seating
    if seating is None:
        return False
    chosen = []
    for line in lines:
        # A booking's lines (a waitlist promotion) never carry chosen seats: best available.
        chosen_seats = getattr(line, "seat_ids", ())
        seats = chosen_seats or seating.picture.place(line.ticket_type_id, line.quantity, accessible)
        if not seats:
            return False
        chosen.extend(seats)
    seating.plan_seats(booking_id, chosen)
    return True


# --- bookings that already exist ---------------------------------------------------------------


def booking_seats_fit(inventory: Inventory, booking: Booking) -> bool:
    """Whether a booking about to take tickets gets its seats: a late payment needs back exactly
    the seats its hold had; a waitlisted booking gets the best available now."""
    lines = _seated_lines(inventory, booking.lines)
    if not lines:
        return True
    seating = inventory.seating
    if seating is None:
        return False
    had = seating.seats_once_held(booking.id)
    if had:
        if not all(seating.is_free(seat_id) for seat_id in had):
            return False
        seating.plan_seats(booking.id, list(had))
        return True
    return _plan(inventory, booking.id, lines, booking.accessible)


def follow(booking: Booking, inventory: Inventory, current: str, target: str, now: dt.datetime) -> None:
    """The seats follow the booking's transition `current` → `target`: taken with its tickets,
    sold when paid, released when it gives its tickets back."""
    if not _seated_lines(inventory, booking.lines) or inventory.seating is None:
        return
    seating = inventory.seating
    if target in (HELD, CONFIRMED) and current != HELD:  # tickets taken: the seats planned for them
        seating.take(booking.id, target, now)
        seating.write_new_rows()
    elif current == HELD and target == CONFIRMED:
        seating.sell(booking.id)
    elif target in GIVING_BACK and current in (HELD, CONFIRMED):
        seating.release_bookings([booking.id], now)


def seating_of(inventory: Inventory):
    """The event's seats, read only if it sells a seated type."""
    if any(ticket_type.seated for ticket_type in inventory.ticket_types.values()):
        return inventory.seating
    return None


def release_bookings(inventory: Inventory, booking_ids, now: dt.datetime) -> None:
    """Bookings that gave their tickets back in bulk (holds run out) release their seats."""
    if seating := seating_of(inventory):
        seating.release_bookings(booking_ids, now)


def release_tickets(inventory: Inventory, ticket_ids, now: dt.datetime) -> None:
    """Tickets given back one by one release exactly their seats."""
    if seating := seating_of(inventory):
        seating.release_tickets(ticket_ids, now)
