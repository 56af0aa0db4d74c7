"""The seats of bookings and tickets, as readers see them: a booking's items, a ticket's seat
(its view, PDF, QR claims, check-in answer, the attendee list), and which ticket sits where.

A booking's seats are its live assignments. Issuing its tickets gives each ticket one of them
(`seat_tickets`), in the order of the plan, so a ticket's seat is the live assignment naming
it; a cancelled ticket keeps the seat it had, as the record of where it was.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import insert, select, update

from core.db import UnitOfWork
from core.errors import Conflict, Invalid
from core.inventory import Inventory
from core.models import Seat, SeatAssignment, Ticket
from core.statuses import BookingStatus


def seat_view(seat) -> dict:
    return {"id": seat.id, "section": seat.section, "row": seat.row, "label": seat.label}


def seat_words(seat: dict | None) -> str | None:
    """A seat in words, as printed on a ticket: `Stalls, Row B, Seat 2`."""
    if seat is None:
        return None
    return f"{seat['section']}, Row {seat['row']}, Seat {seat['label']}"


def booking_seats(uow: UnitOfWork, booking_id: uuid.UUID) -> dict[uuid.UUID, list[dict]]:
    """The booking's live seats by ticket type, in plan order."""
    return bookings_seats(uow, [booking_id])[booking_id]


def bookings_seats(
    uow: UnitOfWork, booking_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[uuid.UUID, list[dict]]]:
    """`booking_seats` of many bookings in one query (a batch of decisions read at once)."""
    rows = uow.session.execute(
        select(SeatAssignment.booking_id, Seat.id, Seat.section, Seat.row, Seat.label, Seat.ticket_type_id)
        .join(SeatAssignment, SeatAssignment.seat_id == Seat.id)
        .where(SeatAssignment.booking_id.in_(booking_ids), SeatAssignment.released_at.is_(None))
        .order_by(Seat.position)
    )
    seats: dict[uuid.UUID, dict[uuid.UUID, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for seat in rows:
        seats[seat.booking_id][seat.ticket_type_id].append(seat_view(seat))
    return seats


def ticket_seats(uow: UnitOfWork, ticket_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """Each ticket's seat (the live one, else the last it had), by ticket id; unseated tickets
    are absent."""
    ticket_ids = list(ticket_ids)
    if not ticket_ids:
        return {}
    rows = uow.session.execute(
        select(SeatAssignment.ticket_id, Seat.id, Seat.section, Seat.row, Seat.label)
        .join(Seat, Seat.id == SeatAssignment.seat_id)
        .where(SeatAssignment.ticket_id.in_(ticket_ids))
        .order_by(SeatAssignment.released_at.is_(None), SeatAssignment.assigned_at)
    )
    return {row.ticket_id: seat_view(row) for row in rows}  # the live one last, so it wins


def seat_tickets(uow: UnitOfWork, pairs: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Each new ticket takes its seat: the live assignment of the seat names the ticket."""
    for ticket_id, seat_id in pairs:
        uow.session.execute(
            update(SeatAssignment)
            .where(SeatAssignment.seat_id == seat_id, SeatAssignment.released_at.is_(None))
            .values(ticket_id=ticket_id)
        )


def move_to_seat(
    uow: UnitOfWork, inventory: Inventory, ticket: Ticket, seat_id: uuid.UUID, now: dt.datetime
) -> dict:
    """Give a ticket of a confirmed booking another free seat of its type (under the inventory
    lock); its old seat is released. Returns the new seat's view."""
    state = inventory.seating
    seat = state.seats.get(seat_id) if state is not None else None
    if seat is None or seat.ticket_type_id != ticket.ticket_type_id:
        raise Invalid("This seat is not a seat of the event's plan of the ticket's type.", name="unknown_seat",
                      details={"seat_id": str(seat_id)})  # fmt: skip
    if not state.is_free(seat_id):
        raise Conflict("This seat is not free.", name="seat_unavailable", details={"seat_id": str(seat_id)})
    state.release_tickets([ticket.id], now)
    state.plan_seats(ticket.booking_id, [seat_id])
    state.take(ticket.booking_id, BookingStatus.CONFIRMED, now)
    rows = state.new_rows()
    uow.session.execute(insert(SeatAssignment), [{**row, "ticket_id": ticket.id} for row in rows])
    return seat_view(seat)
