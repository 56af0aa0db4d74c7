"""Helpers for tests of reserved seating: a seated event laid out by the plan service, requests
for best available or chosen seats, and the seats as PostgreSQL and the Redis map see them."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from core import runtime
from core.inventory import Line
from core.models import Booking, BookingLine, Seat, SeatAssignment, SeatingPlan, User
from core.seating import plans
from core.seating.best_available import PlanSeat, SeatPicture
from core.seating.reading import read_map
from core.seating.seat_map import VARIANTS, documents, map_key
from core.seating.state import read_seating_state
from core.services import bookings


def seated_event(make_event, organizer: User, *, rows: int = 5, seats_per_row: int = 10, **fields):
    """A published event with one seated type ("Stalls") laid out as a regular block, front row
    at y = 0, the stage centred in front of it."""
    event = make_event(organizer, ticket_types=[{"name": "Stalls", "price": 2500, "quota": 0, "seated": True}],
                       **fields)  # fmt: skip
    lay_out(event, organizer, [{"name": "Stalls", "rows": rows, "seats_per_row": seats_per_row,
                                "ticket_type_id": event.ticket_types[0].id}],
            focal=((seats_per_row - 1) / 2, -3.0))  # fmt: skip
    return event


def lay_out(event, organizer: User, sections: list[dict], focal=(0.0, -3.0)):
    with runtime.database().unit_of_work() as uow:
        plans.put_plan(
            uow, organizer, event.id, {"focal_point": {"x": focal[0], "y": focal[1]}, "sections": sections}
        )
        uow.commit()


def seat_ids(db, event) -> dict[tuple[str, str], uuid.UUID]:
    """The plan's seat ids by (row, label)."""
    with db.unit_of_work() as uow:
        return {
            (s.row, s.label): s.id for s in uow.session.scalars(select(Seat).where(Seat.event_id == event.id))
        }


def ask_seats(
    user, event, quantity: int = 0, chosen=(), accessible: bool = False, join_waitlist: bool = False
):
    line = Line(event.ticket_types[0].id, quantity or len(chosen), tuple(chosen))
    ask = bookings.BookingAsk(event.id, (line,), join_waitlist, accessible=accessible)
    return bookings.request_booking(runtime.database(), user.id, ask, None, session_id="s")["id"]


def live_seats(db, event) -> dict[uuid.UUID, uuid.UUID]:
    """Seat id → booking id of every live assignment, from PostgreSQL."""
    with db.unit_of_work() as uow:
        return dict(uow.session.execute(
            select(SeatAssignment.seat_id, SeatAssignment.booking_id)
            .where(SeatAssignment.event_id == event.id, SeatAssignment.released_at.is_(None))
        ).all())  # fmt: skip


def seats_of(db, booking_id) -> list[tuple[str, str]]:
    """(row, label) of a booking's live seats, in plan order."""
    with db.unit_of_work() as uow:
        return [(row, label) for row, label in uow.session.execute(
            select(Seat.row, Seat.label).join(SeatAssignment, SeatAssignment.seat_id == Seat.id)
            .where(SeatAssignment.booking_id == booking_id, SeatAssignment.released_at.is_(None))
            .order_by(Seat.position)
        )]  # fmt: skip


def map_statuses(event, audience: str = "staff") -> dict[uuid.UUID, str]:
    """Seat id → status as the Redis map tells it."""
    _etag, body = read_map(runtime.database(), event.id, f"{audience}.json")
    return {uuid.UUID(seat["id"]): seat["status"] for seat in json.loads(body)["seats"]}


def database_statuses(db, event) -> dict[uuid.UUID, str]:
    """Seat id → status as PostgreSQL tells it: blocked, held or sold by a live assignment."""
    with db.unit_of_work() as uow:
        seats = uow.session.execute(select(Seat.id, Seat.blocked).where(Seat.event_id == event.id)).all()
        live = dict(uow.session.execute(
            select(SeatAssignment.seat_id, Booking.status)
            .join(Booking, Booking.id == SeatAssignment.booking_id)
            .where(SeatAssignment.event_id == event.id, SeatAssignment.released_at.is_(None))
        ).all())  # fmt: skip
    by_booking = {"held": "held", "confirmed": "sold"}
    return {seat_id: by_booking[live[seat_id]] if seat_id in live else "blocked" if blocked else "available"
            for seat_id, blocked in seats}  # fmt: skip


def assert_map_agrees(db, event) -> None:
    """The Redis map says what PostgreSQL says, for staff and for the public."""
    expected = database_statuses(db, event)
    assert map_statuses(event, "staff") == expected
    public = {
        seat: "available" if status == "available" else "unavailable" for seat, status in expected.items()
    }
    assert map_statuses(event, "public") == public


def assert_map_is_drawn_whole(db, event) -> None:
    """Each rendering the API serves, drawn from the statuses the drainer kept up to date batch
    after batch, is byte for byte the map drawn from PostgreSQL alone, of the plan's version."""
    with db.unit_of_work() as uow:
        plan = uow.session.get(SeatingPlan, event.id)
        expected = documents(read_seating_state(uow, plan))
        version = plan.version
    assert runtime.redis_client().get(map_key(event.id, "version")) == str(version)
    for variant in VARIANTS:
        assert read_map(db, event.id, variant) == (f"{version}-{variant}", expected[variant]), variant


def replay_in_queue_order(db, event) -> tuple[int, int]:
    """Decide the event's requests again, in queue order, with best available alone (no I/O):
    every booking must have exactly the seats the replay gives it, or be refused when the replay
    finds none. This proves queue order, the placement rules (together when a row can, apart
    only when none can) and that no seat went twice. Valid while nothing was given back yet.
    Returns how many groups sat together and how many apart."""
    with db.unit_of_work() as uow:
        seats = uow.session.scalars(
            select(Seat).where(Seat.event_id == event.id).order_by(Seat.position)
        ).all()
        plan = uow.session.get(SeatingPlan, event.id)
        rows = uow.session.execute(
            select(Booking.id, Booking.status, Booking.reason, BookingLine.quantity)
            .join(BookingLine, BookingLine.booking_id == Booking.id)
            .where(Booking.event_id == event.id)
            .order_by(Booking.queue_seq)
        ).all()
        assigned: dict = {}
        for seat_id, booking_id in uow.session.execute(
            select(SeatAssignment.seat_id, SeatAssignment.booking_id).where(
                SeatAssignment.event_id == event.id, SeatAssignment.released_at.is_(None)
            )
        ):
            assigned.setdefault(booking_id, set()).add(seat_id)
    picture = SeatPicture(
        [
            PlanSeat(s.id, s.ticket_type_id, (s.section, s.row), s.x, s.y, s.accessible, s.companion)
            for s in seats
        ],
        (plan.focal_x, plan.focal_y),
    )
    ticket_type = event.ticket_types[0].id
    together = apart = 0
    for booking_id, status, reason, quantity in rows:
        expected = picture.place(ticket_type, quantity)
        if expected is None:
            assert (status, reason) == ("rejected", "sold_out"), booking_id
            assert booking_id not in assigned
            continue
        assert status == "held" and assigned.get(booking_id) == set(expected), booking_id
        placed = picture.best_together(ticket_type, quantity)
        together += placed is not None
        apart += placed is None
        picture.take(expected)
    return together, apart
