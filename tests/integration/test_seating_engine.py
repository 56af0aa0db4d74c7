"""Seats decided by the allocation engine: in queue order, in the drainer's transaction, never
twice; released exactly by expiry and cancellation; the Redis map agreeing with PostgreSQL."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from core import runtime
from core.models import SeatAssignment, SeatingPlan, Ticket, utcnow
from core.seating import plans, reading, seat_map, state
from core.seating.seat_map import map_keys
from core.seating.state import fixed_plan, read_seating_state
from core.services import bookings, event_cancellation, events, holds
from tests.integration.booking_helpers import assert_counters_agree, drain, end_holds_now, load
from tests.integration.payment_helpers import pay_on_local_page
from tests.integration.seating_helpers import (
    ask_seats,
    assert_map_agrees,
    assert_map_is_drawn_whole,
    lay_out,
    live_seats,
    map_statuses,
    replay_in_queue_order,
    seat_ids,
    seated_event,
    seats_of,
)
from tests.jobs import run_jobs


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
            event_id=event.id, seat_id=seat_id, booking_id=booking, assigned_at=utcnow()))  # fmt: skip
        uow.commit()


def test_expired_holds_release_their_seats_and_the_map_follows(db, organizer, make_event, make_user):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=5)
    kept, lapsing = ask_seats(make_user(), event, 2), ask_seats(make_user(), event, 3)
    drain(event)
    lapsed_seats = set(seats_of(db, lapsing))
    end_holds_now(db, [lapsing])
    holds.expire_holds(runtime.database())
    assert load(db, lapsing).status == "expired"
    assert seats_of(db, lapsing) == []
    live = live_seats(db, event)
    assert set(live.values()) == {kept}
    statuses = map_statuses(event)
    assert {seat for seat, status in statuses.items() if status == "held"} == set(live)
    assert sum(status == "available" for status in statuses.values()) == 10 - 2
    assert len(lapsed_seats) == 3
    assert_counters_agree(db, event)


def confirm_and_issue(db, booking_ids):
    run_jobs("prepare_checkouts")
    for booking_id in booking_ids:
        pay_on_local_page(db, booking_id)
    run_jobs("process_webhook_event", "issue_tickets")


def test_cancelling_tickets_or_bookings_releases_exactly_their_seats(db, organizer, make_event, make_user):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=6)
    trio, pair = ask_seats(make_user(), event, 3), ask_seats(make_user(), event, 2)
    drain(event)
    confirm_and_issue(db, [trio, pair])
    trio_seats = seats_of(db, trio)
    with db.unit_of_work() as uow:
        tickets = uow.session.scalars(
            select(Ticket).where(Ticket.booking_id == trio).order_by(Ticket.id)
        ).all()
    seat_of = dict(zip([t.id for t in tickets], trio_seats, strict=True))
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, uow.session.merge(organizer), trio, [tickets[0].id])
        uow.commit()
    assert seats_of(db, trio) == [s for s in trio_seats if s != seat_of[tickets[0].id]]
    assert_map_agrees(db, event)
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, uow.session.merge(organizer), pair)
        uow.commit()
    assert seats_of(db, pair) == []
    assert set(live_seats(db, event).values()) == {trio}
    assert_map_agrees(db, event)
    assert_counters_agree(db, event)


def test_a_cancelled_event_releases_every_seat(db, organizer, make_event, make_user):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=5)
    held, paid = ask_seats(make_user(), event, 2), ask_seats(make_user(), event, 3)
    drain(event)
    confirm_and_issue(db, [paid])
    with db.unit_of_work() as uow:
        events.cancel_event(uow, uow.session.merge(organizer), event.id)
        uow.commit()
    event_cancellation.settle_cancelled_event(db, event.id)
    assert (load(db, held).status, load(db, paid).status) == ("cancelled", "cancelled")
    assert live_seats(db, event) == {}
    assert_map_agrees(db, event)


def test_the_waitlist_is_served_first_and_by_best_available(db, organizer, make_event, make_user):
    event = seated_event(make_event, organizer, rows=1, seats_per_row=6)
    everything = ask_seats(make_user(), event, 6)
    waiting = ask_seats(make_user(), event, 2, join_waitlist=True)
    drain(event)
    assert load(db, waiting).status == "waitlisted"
    end_holds_now(db, [everything])
    newcomer = ask_seats(make_user(), event, 2)
    drain(event)
    assert load(db, waiting).status == "held"
    assert seats_of(db, waiting) == [("A", "3"), ("A", "4")]
    assert load(db, newcomer).status == "held"
    assert len(seats_of(db, newcomer)) == 2
    assert_map_agrees(db, event)


def test_accessible_seats_go_only_to_requests_that_ask_for_them(db, organizer, make_event, make_user):
    event = make_event(
        organizer, ticket_types=[{"name": "Stalls", "price": 2500, "quota": 0, "seated": True}]
    )
    stalls = event.ticket_types[0].id

    def seat(label, x, **flags):
        return {"label": label, "x": x, "y": 0.0, "ticket_type_id": stalls, **flags}

    lay_out(event, organizer, [{"name": "Stalls", "rows": [{"name": "A", "seats": [
        seat("1", 0.0), seat("2", 1.0, companion=True), seat("3", 2.0, accessible=True), seat("4", 3.0)]}]}],
        focal=(2.0, -3.0))  # fmt: skip
    ordinary = ask_seats(make_user(), event, 2)
    refused = ask_seats(make_user(), event, 1)
    assisted = ask_seats(make_user(), event, 2, accessible=True)
    drain(event)
    assert seats_of(db, ordinary) == [("A", "1"), ("A", "4")]  # apart: the middle pair is kept
    assert (load(db, refused).status, load(db, refused).reason) == ("rejected", "sold_out")
    assert seats_of(db, assisted) == [("A", "2"), ("A", "3")]


def test_after_a_rush_with_expiries_and_cancellations_the_map_agrees_with_the_database(
    db, organizer, make_event, make_user
):
    event = seated_event(make_event, organizer, rows=10, seats_per_row=20)
    customers = [make_user() for _ in range(120)]
    asked = [ask_seats(customer, event, 1 + index % 4) for index, customer in enumerate(customers)]
    drain(event)
    held = [b for b in asked if load(db, b).status == "held"]
    assert len(held) > 50
    together, apart = replay_in_queue_order(db, event)
    assert together > apart
    confirm_and_issue(db, held[::3])
    end_holds_now(db, held[1::3])
    holds.expire_holds(runtime.database())
    for booking_id in held[2::6]:
        with db.unit_of_work() as uow:
            bookings.cancel_booking(uow, uow.session.merge(organizer), booking_id)
            uow.commit()
    late = [ask_seats(make_user(), event, 3) for _ in range(10)]
    drain(event)
    assert {load(db, b).status for b in late} == {"held"}
    assert_map_agrees(db, event)
    assert_map_is_drawn_whole(db, event)
    assert_counters_agree(db, event)


def test_a_map_that_missed_a_publication_is_right_again_at_the_next_change(
    db, organizer, make_event, make_user
):
    event = seated_event(make_event, organizer, rows=3, seats_per_row=8)
    ask_seats(make_user(), event, 2)
    drain(event)
    assert_map_is_drawn_whole(db, event)
    client = runtime.redis_client()
    keys = map_keys(event.id)
    missed = dict(zip(keys, client.mget(keys), strict=True))
    ask_seats(make_user(), event, 3)
    drain(event)
    client.mset(missed)  # as if Redis had lost the last publication: the map is a version behind
    ask_seats(make_user(), event, 1)
    drain(event)
    assert_map_is_drawn_whole(db, event)
    assert_map_agrees(db, event)


def test_an_older_publication_never_replaces_a_newer_one(db, organizer, make_event, make_user):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=6)
    with db.unit_of_work() as uow:
        older = read_seating_state(uow, uow.session.get(SeatingPlan, event.id))
    ask_seats(make_user(), event, 2)
    drain(event)  # the drainer publishes a newer version with two seats held
    assert not seat_map.publish(older)  # a publisher that committed earlier but comes late
    assert_map_is_drawn_whole(db, event)
    assert_map_agrees(db, event)


def test_a_process_draws_each_version_once_and_follows_a_new_plan(db, organizer, make_event, monkeypatch):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=6)
    drawn = []
    monkeypatch.setattr(reading, "fill", lambda *args: drawn.append(args[1]) or seat_map.fill(*args))
    first = reading.read_map(db, event.id, "public.json")
    assert reading.read_map(db, event.id, "public.json") == first and drawn == ["public.json"]
    with db.unit_of_work() as uow:  # a change in another transaction: a camera position
        plans.block_seats(uow, organizer, event.id, [seat_ids(db, event)[("A", "1")]], True)
        uow.commit()
    assert reading.read_map(db, event.id, "public.json") != first and len(drawn) == 2
    assert_map_agrees(db, event)
    # Nothing held or sold: the plan may be laid out anew, and the map follows its new seats.
    lay_out(event, organizer, [{"name": "Balcony", "rows": 1, "seats_per_row": 4,
                                "ticket_type_id": event.ticket_types[0].id}])  # fmt: skip
    _etag, body = reading.read_map(db, event.id, "staff.json")
    assert {seat["section"] for seat in json.loads(body)["seats"]} == {"Balcony"}
    assert_map_is_drawn_whole(db, event)


def test_clients_that_find_the_map_changed_together_wait_for_one_drawing(
    db, organizer, make_event, monkeypatch
):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=6)
    drawn, laid_out = [], []

    def slow_fill(*args):
        drawn.append(args[1])
        time.sleep(0.05)  # long enough for every client to arrive while it draws
        return seat_map.fill(*args)

    monkeypatch.setattr(reading, "fill", slow_fill)
    monkeypatch.setattr(reading, "fixed_plan", lambda *args: laid_out.append(1) or fixed_plan(*args))
    monkeypatch.setattr(state, "_FIXED", type(state._FIXED)())  # a plan this process has not laid out
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: reading.read_map(db, event.id, "public.svg"), range(8)))
    assert len(set(answers)) == 1 and drawn == ["public.svg"] and laid_out == [1]
