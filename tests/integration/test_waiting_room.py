"""The waiting room on real PostgreSQL and Redis: entering, one entry a customer, the shuffle at
the opening in the order the revealed seed gives, and the shuffle interrupted or run twice."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading

import pytest
from sqlalchemy import select

from core import runtime
from core.booking_queue import queue_for
from core.errors import Conflict, Invalid
from core.event_snapshots import forget_event_snapshot
from core.models import Booking, WaitingRoom, utcnow
from core.services import allocation, bookings, events, waiting_room
from core.waiting_room_queue import room_queue_for
from tests.integration.booking_helpers import ask, drain, queue_length, statuses
from tests.waiting_room_helpers import add_waiting_room, open_sales_now, recomputed_queue_numbers

CUSTOMERS = 40  # the shared `customers` fixture makes this many


@pytest.fixture()
def room_event(db, organizer, make_event):
    event = make_event(organizer, quota=10)
    add_waiting_room(db, event)
    return event


@pytest.fixture()
def small_chunks(settings):
    """Shuffle three entrants per Redis step, so a shuffle has many steps to interrupt."""
    runtime.configure(dataclasses.replace(settings, waiting_room_chunk=3))
    yield
    runtime.configure(settings)


def public_view(db, event) -> dict:
    with db.unit_of_work() as uow:
        return waiting_room.waiting_room_view(uow, event.id, None)


def queue_numbers(db, event) -> dict[str, int]:
    with db.unit_of_work() as uow:
        rows = uow.session.execute(select(Booking.id, Booking.queue_seq).where(Booking.event_id == event.id))
        return {str(booking_id): seq for booking_id, seq in rows}


def test_entrants_wait_without_a_position_and_nothing_is_queued(room_event, customers):
    booking_id = ask(customers[0], room_event)
    _, _, view = bookings.queued_booking_view(booking_id)
    assert view["status"] == "queued" and view["waiting_room"] is True and view["queue_position"] is None
    assert view["sales_start"] == room_event.sales_start
    assert queue_length(room_event) == 0
    assert drain(room_event).decided == 0  # before the opening the drainer leaves the room alone


def test_a_customer_enters_the_room_once(room_event, customers):
    first = ask(customers[0], room_event, key="k1")
    assert ask(customers[0], room_event, key="k1") == first  # the idempotent replay
    with pytest.raises(Conflict) as refused:
        ask(customers[0], room_event, key="k2")
    assert refused.value.name == "hold_exists"
    with pytest.raises(Conflict):
        ask(customers[0], room_event)
    assert room_queue_for(runtime.redis_client()).entrants(room_event.id) == 1


def test_before_the_room_opens_sales_are_closed(db, organizer, make_event, customers):
    event = make_event(organizer)
    add_waiting_room(db, event)
    with db.unit_of_work() as uow:
        uow.session.get(type(event), event.id).waiting_room_opens_at = utcnow() + dt.timedelta(minutes=5)
        uow.commit()
    forget_event_snapshot(event.id)
    with pytest.raises(Conflict) as refused:
        ask(customers[0], event)
    assert refused.value.name == "sales_closed"


def test_the_opening_shuffles_entrants_in_the_seed_order_ahead_of_later_requests(db, room_event, customers):
    before = public_view(db, room_event)
    entrants = [str(ask(customer, room_event)) for customer in customers[:30]]
    assert public_view(db, room_event)["entrants"] == 30 and "seed" not in public_view(db, room_event)
    open_sales_now(db, room_event)
    later = [str(ask(customer, room_event)) for customer in customers[30:]]  # closes the room
    drain(room_event)
    after = public_view(db, room_event)
    assert after["seed_commitment"] == before["seed_commitment"]
    assert hashlib.sha256(bytes.fromhex(after["seed"])).hexdigest() == after["seed_commitment"]
    assert after["entrants"] == 30 and after["first_queue_number"] == 1
    numbers = queue_numbers(db, room_event)
    assert {b: numbers[b] for b in entrants} == recomputed_queue_numbers(after, entrants)
    assert [numbers[b] for b in later] == list(range(31, 41))  # behind every entrant, in order
    outcome = {str(b): status for b, status in statuses(db, room_event).items()}
    held = sorted((b for b in entrants if outcome[b] == "held"), key=numbers.get)
    assert [numbers[b] for b in held] == list(range(1, 11))
    assert entrants[:10] != held  # not the first arrivals (10! orders; one is theirs)


def test_an_entrant_polling_after_the_opening_schedules_the_shuffle(db, room_event, customers, monkeypatch):
    booking_id = ask(customers[0], room_event)
    # The opening has come: the entrant's request carries the opening it waits for.
    monkeypatch.setattr(bookings, "utcnow", lambda: room_event.sales_start + dt.timedelta(seconds=1))
    sent = []
    monkeypatch.setattr(runtime, "_dispatcher", lambda job, kwargs: sent.append((job, kwargs)))
    bookings.queued_booking_view(booking_id)
    bookings.queued_booking_view(booking_id)
    assert sent == [("drain_event", {"event_id": str(room_event.id)})]  # once per drain cycle


def test_beat_sweeps_rooms_whose_opening_came(db, room_event, customers, monkeypatch):
    ask(customers[0], room_event)
    sent = []
    monkeypatch.setattr(runtime, "_dispatcher", lambda job, kwargs: sent.append(kwargs))
    assert waiting_room.sweep_waiting_rooms(db) == []
    open_sales_now(db, room_event)
    assert waiting_room.sweep_waiting_rooms(db) == [str(room_event.id)]
    drain(room_event)
    assert waiting_room.sweep_waiting_rooms(db) == []  # recorded: nothing more to do


class Killed(Exception):
    pass


def test_a_shuffle_killed_half_way_is_finished_by_the_next_drain_exactly_once(db, room_event, customers,
                                                                              small_chunks):  # fmt: skip
    entrants = [str(ask(customer, room_event)) for customer in customers[:20]]
    open_sales_now(db, room_event)
    steps = 0

    def die_after_three_steps():
        nonlocal steps
        steps += 1
        if steps == 3:
            raise Killed

    with pytest.raises(Killed):
        waiting_room.open_if_due(db, room_event.id, keep_lock=die_after_three_steps)
    assert queue_length(room_event) == 9  # three steps of three
    assert allocation.drain_event_queue(db, room_event.id).decided == 20
    view = public_view(db, room_event)
    numbers = queue_numbers(db, room_event)
    assert numbers == recomputed_queue_numbers(view, entrants)
    assert waiting_room.open_if_due(db, room_event.id) is None  # recorded once and for all


def test_two_shufflers_at_once_agree_and_place_everyone_once(db, room_event, customers, small_chunks):
    entrants = [str(ask(customer, room_event)) for customer in customers[:40]]
    open_sales_now(db, room_event)
    barrier = threading.Barrier(2)
    openings = []

    def shuffle():
        barrier.wait()
        openings.append(waiting_room.open_if_due(db, room_event.id))

    threads = [threading.Thread(target=shuffle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One that starts after the other has recorded the shuffle finds nothing to do (None).
    assert len({opening for opening in openings if opening is not None}) == 1
    assert queue_length(room_event) == 40
    queued = queue_for(runtime.redis_client()).head(room_event.id, 100)
    assert sorted(r.seq for r in queued) == list(range(1, 41))
    with db.unit_of_work() as uow:
        assert uow.session.get(WaitingRoom, room_event.id).entrants == 40
    assert {str(r.booking_id) for r in queued} == set(entrants)


def test_a_room_opens_before_sales_start_and_stays_fixed_once_open(db, organizer, make_event):
    event = make_event(organizer, sales_start=utcnow() + dt.timedelta(hours=1))
    with db.unit_of_work() as uow:
        with pytest.raises(Invalid) as refused:
            events.update_event(uow, organizer, event.id, {"waiting_room_opens_at": event.sales_start}, 1)
        assert refused.value.name == "waiting_room_after_sales_start"
    with db.unit_of_work() as uow:
        with pytest.raises(Invalid) as refused:
            events.update_event(uow, organizer, event.id, {"sales_start": None,
                                "waiting_room_opens_at": utcnow()}, 1)  # fmt: skip
        assert refused.value.name == "waiting_room_without_sales_start"
    with db.unit_of_work() as uow:
        events.update_event(uow, organizer, event.id, {"waiting_room_opens_at": utcnow()}, 1)
        uow.commit()
        commitment = uow.session.get(WaitingRoom, event.id).seed_commitment
    with db.unit_of_work() as uow:
        with pytest.raises(Conflict) as refused:
            events.update_event(uow, organizer, event.id, {"waiting_room_opens_at": None}, 2)
        assert refused.value.name == "waiting_room_open"
    with db.unit_of_work() as uow:
        assert uow.session.get(WaitingRoom, event.id).seed_commitment == commitment


def test_an_event_without_a_waiting_room_has_no_room_to_show(client, organizer, make_event):
    event = make_event(organizer)
    answer = client.get(f"/api/v1/events/{event.id}/waiting-room")
    assert (answer.status_code, answer.json["errors"]["reason"]) == (404, "no_waiting_room")
