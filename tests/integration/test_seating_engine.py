"""Seats decided by the allocation engine: in queue order, in the drainer's transaction, never
twice; released exactly by expiry and cancellation; the Redis map agreeing with PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from core.models import SeatAssignment, new_id, utcnow
from core.services import holds
from tests.integration.booking_helpers import assert_counters_agree, drain, load
from tests.integration.payment_helpers import end_holds_now
from tests.integration.seating_helpers import (
    ask_seats,
    live_seats,
    map_statuses,
    seat_ids,
    seated_event,
    seats_of,
)


def test_best_available_seats_the_first_group_in_the_centre_of_the_front_row(
    db, organizer, make_event, make_user
):
    event = seated_event(make_event, organizer, rows=3, seats_per_row=10)
    first, second = ask_seats(make_user(), event, 2), ask_seats(make_user(), event, 3)
    drain(event)
    assert load(db, first).status == "held"
    assert seats_of(db, first) == [("A", "5"), ("A", "6")]
    # Three more in row A would strand a single seat either side of the pair: row B, centred.
    assert seats_of(db, second) == [("B", "4"), ("B", "5"), ("B", "6")]
    assert_counters_agree(db, event)


def test_chosen_seats_go_to_the_first_request_and_the_next_is_rejected(db, organizer, make_event, make_user):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=4)
    ids = seat_ids(db, event)
    wanted = [ids[("B", "2")], ids[("B", "3")]]
    first = ask_seats(make_user(), event, chosen=wanted)
    second = ask_seats(make_user(), event, chosen=[ids[("B", "3")]])
    third = ask_seats(make_user(), event, chosen=[ids[("B", "4")]])
    drain(event)
    assert (load(db, first).status, seats_of(db, first)) == ("held", [("B", "2"), ("B", "3")])
    assert (load(db, second).status, load(db, second).reason) == ("rejected", "seat_unavailable")
    assert seats_of(db, third) == [("B", "4")]


def test_a_second_live_assignment_of_a_seat_is_refused_by_the_database(db, organizer, make_event, make_user):
    event = seated_event(make_event, organizer, rows=1, seats_per_row=2)
    booking = ask_seats(make_user(), event, 1)
    drain(event)
    [(seat_id, booking_id)] = live_seats(db, event).items()
    with db.unit_of_work() as uow, pytest.raises(IntegrityError):
        uow.session.execute(insert(SeatAssignment).values(
            id=new_id(), event_id=event.id, seat_id=seat_id, booking_id=booking, assigned_at=utcnow()))  # fmt: skip
        uow.commit()


def test_expired_holds_release_their_seats_and_the_map_follows(db, organizer, make_event, make_user):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=5)
    kept, lapsing = ask_seats(make_user(), event, 2), ask_seats(make_user(), event, 3)
    drain(event)
    lapsed_seats = set(seats_of(db, lapsing))
    end_holds_now(db, [lapsing])
    holds.expire_holds()
    assert load(db, lapsing).status == "expired"
    assert seats_of(db, lapsing) == []
    live = live_seats(db, event)
    assert set(live.values()) == {kept}
    statuses = map_statuses(event)
    assert {seat for seat, status in statuses.items() if status == "held"} == set(live)
    assert sum(status == "available" for status in statuses.values()) == 10 - 2
    assert len(lapsed_seats) == 3
    assert_counters_agree(db, event)
