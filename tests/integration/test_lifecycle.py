"""The booking life cycle on real rows: every edge of the diagram moves counters and fields
together, and every edge it lacks is refused with the counters left as they were."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from sqlalchemy import select

from core import lifecycle
from core.booking_requests import BookingRequest, Decision
from core.errors import Conflict
from core.inventory import Line, lock_inventory
from core.models import Booking, BookingLine, Event, TicketType, utcnow
from core.statuses import BookingStatus, RefundReason

S = BookingStatus
# The booking diagram of docs/architecture.md ("State machines"), written out by hand so the table in
# `core.lifecycle` is checked against it.
DIAGRAM = {
    (S.QUEUED, S.HELD), (S.QUEUED, S.CONFIRMED), (S.QUEUED, S.WAITLISTED), (S.QUEUED, S.REJECTED),
    (S.HELD, S.CONFIRMED), (S.HELD, S.EXPIRED), (S.HELD, S.CANCELLED),
    (S.WAITLISTED, S.HELD), (S.WAITLISTED, S.CONFIRMED), (S.WAITLISTED, S.CANCELLED), (S.WAITLISTED, S.EXPIRED),
    (S.CONFIRMED, S.CANCELLED),
    (S.EXPIRED, S.CONFIRMED), (S.EXPIRED, S.CANCELLED),
}  # fmt: skip
STORED = [status for status in S if status != S.QUEUED]  # `queued` lives in Redis only
MISSING = [pair for pair in itertools.product(S, S) if pair not in DIAGRAM]
# What each stored status keeps of the inventory: (held, sold) per ticket.
KEEPS = {S.HELD: (1, 0), S.CONFIRMED: (0, 1)}


@pytest.fixture()
def customer(make_user):
    return make_user(email="life@example.test", name="Life Cycle")


@pytest.fixture()
def put(db, organizer, make_event, customer):
    """Stores a booking of two tickets in a given status, with the counters it implies."""
    event = make_event(organizer, quota=10, price=2500)
    seq = itertools.count(1)

    def make(status: BookingStatus, *, hold_expires_at=None) -> tuple[Event, uuid.UUID]:
        held, sold = (2 * n for n in KEEPS.get(status, (0, 0)))
        with db.unit_of_work() as uow:
            booking_id = uuid.uuid4()
            now = utcnow()
            uow.session.add(
                Booking(
                    id=booking_id,
                    user_id=customer.id,
                    event_id=event.id,
                    status=status,
                    queue_seq=next(seq),
                    total=5000,
                    currency="EUR",
                    requested_at=now,
                    decided_at=now,
                    hold_expires_at=hold_expires_at or now + dt.timedelta(minutes=10),
                    reason="sold_out" if status == S.REJECTED else None,
                )  # fmt: skip
            )
            uow.session.flush()
            tt = uow.session.get(TicketType, event.ticket_types[0].id)
            uow.session.add(
                BookingLine(booking_id=booking_id, ticket_type_id=tt.id, quantity=2, unit_price=2500)
            )
            tt.held, tt.sold = tt.held + held, tt.sold + sold
            ev = uow.session.get(Event, event.id)
            ev.held, ev.sold = ev.held + held, ev.sold + sold
            uow.commit()
        return event, booking_id

    return make


def counters(db, event) -> tuple[int, int, int, int]:
    with db.unit_of_work() as uow:
        ev = uow.session.get(Event, event.id, populate_existing=True)
        tt = uow.session.scalar(select(TicketType).where(TicketType.event_id == event.id))
        uow.session.refresh(tt)
        return tt.held, tt.sold, ev.held, ev.sold


def test_the_table_is_the_diagram():
    assert {(a, b) for a, targets in lifecycle.TRANSITIONS.items() for b in targets} == DIAGRAM
    assert all(not lifecycle.TRANSITIONS[end] for end in (S.REJECTED, S.CANCELLED))


@pytest.mark.parametrize(("current", "target"), [pair for pair in MISSING if pair[0] != S.QUEUED])
def test_a_transition_the_diagram_lacks_is_refused_and_moves_nothing(db, put, current, target):
    event, booking_id = put(current)
    before = counters(db, event)
    with db.unit_of_work() as uow:
        inventory = lock_inventory(uow, event.id)
        booking = uow.session.get(Booking, booking_id)
        in_memory = (inventory.event.held, inventory.event.sold)
        with pytest.raises(Conflict) as refused:
            lifecycle.transition(booking, inventory, target, utcnow())
        assert refused.value.name == "invalid_transition"
        assert (inventory.event.held, inventory.event.sold) == in_memory
        uow.commit()  # whatever the refusal left behind would be stored now
    assert counters(db, event) == before
    with db.unit_of_work() as uow:
        assert uow.session.get(Booking, booking_id).status == current


@pytest.mark.parametrize("current", [status for status in STORED if status != S.WAITLISTED])
def test_only_a_waitlist_place_is_promoted(db, put, current):
    event, booking_id = put(current)
    before = counters(db, event)
    with db.unit_of_work() as uow:
        inventory = lock_inventory(uow, event.id)
        with pytest.raises(Conflict) as refused:
            lifecycle.promote(uow.session.get(Booking, booking_id), inventory, utcnow())
        assert refused.value.name == "invalid_transition"
        uow.commit()
    assert counters(db, event) == before


@pytest.mark.parametrize("target", [target for (source, target) in MISSING if source == S.QUEUED])
def test_the_drainer_cannot_write_a_decision_the_diagram_lacks(db, put, customer, target):
    event, _ = put(S.WAITLISTED)
    with db.unit_of_work() as uow:
        inventory = lock_inventory(uow, event.id)
        request = BookingRequest(uuid.uuid4(), customer.id, event.id, 99,
                                 (Line(event.ticket_types[0].id, 1),), False, utcnow())  # fmt: skip
        with pytest.raises(Conflict) as refused:
            lifecycle.DecidedRows(inventory, utcnow()).add(request, Decision(target))
        assert refused.value.name == "invalid_transition"


# (from, to): how (held, sold) move for a booking of two tickets.
MOVES = {
    (S.HELD, S.CONFIRMED): (-2, 2), (S.HELD, S.EXPIRED): (-2, 0), (S.HELD, S.CANCELLED): (-2, 0),
    (S.WAITLISTED, S.HELD): (2, 0), (S.WAITLISTED, S.CONFIRMED): (0, 2),
    (S.WAITLISTED, S.EXPIRED): (0, 0), (S.WAITLISTED, S.CANCELLED): (0, 0),
    (S.CONFIRMED, S.CANCELLED): (0, -2),
    (S.EXPIRED, S.CONFIRMED): (0, 2), (S.EXPIRED, S.CANCELLED): (0, 0),
}  # fmt: skip


def test_every_stored_edge_has_its_move():
    assert set(MOVES) == {pair for pair in DIAGRAM if pair[0] != S.QUEUED}


@pytest.mark.parametrize(("current", "target"), list(MOVES))
def test_a_transition_moves_counters_and_fields_together(db, put, current, target):
    event, booking_id = put(current)
    held, sold, event_held, event_sold = counters(db, event)
    reason = RefundReason.CUSTOMER_CANCELLED if target == S.CANCELLED else None
    now = utcnow()
    with db.unit_of_work() as uow:
        inventory = lock_inventory(uow, event.id)
        booking = uow.session.get(Booking, booking_id)
        kept_hold = booking.hold_expires_at
        lifecycle.transition(booking, inventory, target, now, reason)
        uow.commit()
    d_held, d_sold = MOVES[(current, target)]
    assert counters(db, event) == (held + d_held, sold + d_sold, event_held + d_held, event_sold + d_sold)
    with db.unit_of_work() as uow:
        booking = uow.session.get(Booking, booking_id)
        assert (booking.status, booking.reason, booking.updated_at) == (target, reason, now)
        assert booking.hold_expires_at == (now + dt.timedelta(seconds=600) if target == S.HELD else kept_hold)
        assert (booking.confirmed_at == now) == (target == S.CONFIRMED)
        assert (booking.cancelled_at == now) == (target == S.CANCELLED)
        promoted = current == S.WAITLISTED and target in (S.HELD, S.CONFIRMED)
        assert (booking.decided_at == now) == promoted


def test_a_late_payment_finds_no_tickets_and_is_refused_with_nothing_moved(db, put):
    event, late = put(S.EXPIRED)
    for _ in range(5):  # the other eight tickets are sold: two are not free any more
        put(S.CONFIRMED)
    before = counters(db, event)
    with db.unit_of_work() as uow:
        inventory = lock_inventory(uow, event.id)
        with pytest.raises(Conflict) as refused:
            lifecycle.confirm(uow.session.get(Booking, late), inventory, utcnow())
        assert refused.value.name == "sold_out"
        uow.commit()
    assert counters(db, event) == before


def test_the_bulk_expiry_touches_only_holds_that_are_due(db, put):
    past = utcnow() - dt.timedelta(seconds=1)
    event, due = put(S.HELD, hold_expires_at=past)
    _, paid = put(S.CONFIRMED, hold_expires_at=past)  # paid in time: its old hold must not expire it
    _, running = put(S.HELD)
    now = utcnow()
    with db.unit_of_work() as uow:
        inventory = lock_inventory(uow, event.id)
        assert lifecycle.expire_due_holds(uow, inventory, now, limit=100) == [due]
        uow.commit()
    assert counters(db, event) == (2, 2, 2, 2)
    with db.unit_of_work() as uow:
        assert [uow.session.get(Booking, b).status for b in (due, paid, running)] == [
            S.EXPIRED, S.CONFIRMED, S.HELD,
        ]  # fmt: skip
        expired = uow.session.get(Booking, due)
        assert (expired.hold_expires_at, expired.updated_at) == (past, now)
