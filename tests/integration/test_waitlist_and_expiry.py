"""Tickets that come back — expiry, cancellation, a raised quota — go to the waitlist in order."""

from __future__ import annotations

import datetime as dt

import pytest

from core import runtime
from core.errors import Conflict
from core.models import Booking, utcnow
from core.services import bookings, events, holds
from tests.integration.booking_helpers import ask, assert_counters_agree, drain, end_holds_now, load, statuses

# How many `customers` (tests/conftest.py) each test of this module gets.
CUSTOMERS = 12


def sold_out_with_waitlist(make_event, organizer, customers, quota=2, waiting=4, quantities=None):
    event = make_event(organizer, quota=quota)
    holders = [ask(c, event) for c in customers[:quota]]
    quantities = quantities or [1] * waiting
    waiters = [
        ask(c, event, q, join_waitlist=True) for c, q in zip(customers[quota:], quantities, strict=False)
    ]
    drain(event)
    return event, holders, waiters


def test_expired_holds_go_to_the_waitlist_in_order(db, organizer, make_event, customers):
    event, holders, waiters = sold_out_with_waitlist(make_event, organizer, customers)
    end_holds_now(db, holders)
    report = holds.expire_holds(runtime.database())
    assert (report.expired_holds, report.promoted) == (2, 2)
    assert [load(db, b).status for b in holders] == ["expired", "expired"]
    assert [load(db, b).status for b in waiters] == ["held", "held", "waitlisted", "waitlisted"]
    promoted = load(db, waiters[0])
    assert promoted.hold_expires_at > utcnow() + dt.timedelta(seconds=500)  # a fresh hold
    assert_counters_agree(db, event)


def test_waitlist_positions_run_from_one_without_gaps(db, organizer, make_event, customers):
    event, holders, waiters = sold_out_with_waitlist(make_event, organizer, customers, waiting=5)
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customers[4], waiters[2])  # someone in the middle leaves
        uow.commit()
    with db.unit_of_work() as uow:
        positions = [
            bookings.booking_view(uow, uow.session.get(Booking, b))["waitlist_position"] for b in waiters
        ]
    assert positions == [1, 2, None, 3, 4]


def test_an_entry_that_does_not_fit_keeps_its_place_and_the_next_is_served(
    db, organizer, make_event, customers
):
    event, holders, waiters = sold_out_with_waitlist(
        make_event, organizer, customers, quota=2, quantities=[2, 1, 1]
    )
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customers[0], holders[0])  # one ticket comes back
        uow.commit()
    assert [load(db, b).status for b in waiters] == ["waitlisted", "held", "waitlisted"]
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customers[1], holders[1])
        uow.commit()
    # one more ticket back: the head wants 2 and only 1 is free, so the third waiter gets it
    assert [load(db, b).status for b in waiters] == ["waitlisted", "held", "held"]
    assert_counters_agree(db, event)


def test_cancelling_a_hold_promotes_before_any_newer_request(db, organizer, make_event, customers):
    event, holders, waiters = sold_out_with_waitlist(make_event, organizer, customers, quota=1, waiting=1)
    newcomer = ask(customers[5], event)  # queued, not yet decided
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customers[0], holders[0])
        uow.commit()
    drain(event)
    assert load(db, waiters[0]).status == "held"
    assert (load(db, newcomer).status, load(db, newcomer).reason) == ("rejected", "sold_out")


def test_raising_the_quota_promotes_the_waitlist(db, organizer, make_event, customers):
    event, holders, waiters = sold_out_with_waitlist(make_event, organizer, customers, quota=2, waiting=3)
    with db.unit_of_work() as uow:
        events.update_ticket_type(uow, organizer, event.id, event.ticket_types[0].id, {"quota": 4}, 1)
        uow.commit()
    assert [load(db, b).status for b in waiters] == ["held", "held", "waitlisted"]
    assert_counters_agree(db, event)


def test_lowering_the_quota_below_held_and_sold_is_refused_and_changes_nothing(
    db, organizer, make_event, customers
):
    event, holders, _ = sold_out_with_waitlist(make_event, organizer, customers, quota=2, waiting=0)
    with db.unit_of_work() as uow, pytest.raises(Conflict):
        events.update_ticket_type(uow, organizer, event.id, event.ticket_types[0].id, {"quota": 1}, 1)
    with db.unit_of_work() as uow:
        assert events.get_event(uow, event.id).ticket_types[0].quota == 2


def test_leaving_the_waitlist_and_letting_go_of_a_hold(db, organizer, make_event, customers):
    event, holders, waiters = sold_out_with_waitlist(make_event, organizer, customers, quota=1, waiting=1)
    with db.unit_of_work() as uow:
        assert bookings.cancel_booking(uow, customers[1], waiters[0]).status == "cancelled"
        uow.commit()
    with db.unit_of_work() as uow:
        assert bookings.cancel_booking(uow, customers[0], holders[0]).status == "cancelled"
        uow.commit()
    assert assert_counters_agree(db, event)["held"] == 0
    with db.unit_of_work() as uow, pytest.raises(Conflict):
        bookings.cancel_booking(uow, customers[0], holders[0])  # already final


def test_another_customer_cannot_cancel(db, organizer, make_event, customers):
    event, holders, _ = sold_out_with_waitlist(make_event, organizer, customers, quota=1, waiting=0)
    with db.unit_of_work() as uow, pytest.raises(Exception) as refused:
        bookings.cancel_booking(uow, customers[5], holders[0])
    assert refused.value.status_code == 404
    assert load(db, holders[0]).status == "held"


def test_a_queued_request_cannot_be_cancelled_until_decided(db, organizer, make_event, customers):
    event = make_event(organizer)
    queued = ask(customers[0], event)
    with db.unit_of_work() as uow, pytest.raises(Conflict) as refused:
        bookings.cancel_booking(uow, customers[0], queued)
    assert refused.value.name == "not_decided_yet"


def test_waitlist_ends_when_the_event_starts(db, organizer, make_event, customers):
    event, _, waiters = sold_out_with_waitlist(make_event, organizer, customers, quota=1, waiting=2)
    with db.unit_of_work() as uow:
        stored = uow.session.get(type(event), event.id)
        stored.starts_at, stored.ends_at = (
            utcnow() - dt.timedelta(minutes=1),
            utcnow() + dt.timedelta(hours=2),
        )
        uow.commit()
    assert holds.expire_holds(runtime.database()).expired_waitlist == 2
    assert {load(db, b).status for b in waiters} == {"expired"}


def test_expiry_in_chunks_returns_everything(db, organizer, make_event, make_user):
    event = make_event(organizer, quota=50)
    people = [make_user() for _ in range(25)]
    ids = [ask(p, event, 2) for p in people]
    drain(event)
    end_holds_now(db, ids)
    report = holds.expire_holds(runtime.database(), chunk=7)
    assert report.expired_holds == 25
    assert set(statuses(db, event).values()) == {"expired"}
    assert assert_counters_agree(db, event)["held"] == 0
