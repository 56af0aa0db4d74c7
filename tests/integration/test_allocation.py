"""The allocation engine on real PostgreSQL and Redis: order, limits, replays, lost wake-ups."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core import runtime
from core.booking_queue import BookingQueue, status_key
from core.errors import Conflict, Invalid, NotFound
from core.models import Booking, Event, TicketType, utcnow
from core.queued_form import encode_request, request_fields
from core.services import allocation, bookings
from tests.integration.booking_helpers import ask, assert_counters_agree, drain, load, queue_length, statuses

# How many `customers` (tests/conftest.py) each test of this module gets.
CUSTOMERS = 30


def test_requests_are_decided_first_come_first_served(db, organizer, make_event, customers):
    event = make_event(organizer, quota=5)
    ids = [ask(customer, event, join_waitlist=i % 2 == 0) for i, customer in enumerate(customers[:10])]
    report = drain(event)
    assert report.decided == 10
    outcome = statuses(db, event)
    assert [outcome[i] for i in ids[:5]] == ["held"] * 5
    assert [outcome[i] for i in ids[5:]] == ["rejected", "waitlisted", "rejected", "waitlisted", "rejected"]
    assert load(db, ids[5]).reason == "sold_out"
    assert queue_length(event) == 0
    assert_counters_agree(db, event)


def test_requests_queued_in_the_previous_releases_form_are_decided_after_an_upgrade(
    db, organizer, make_event, customers, redis_client
):
    """An upgrade in the middle of a sale: what the old release queued (its JSON form) is polled,
    renumbered by a sequence repair, and decided in order with what the new one queues."""
    event = make_event(organizer, quota=3)
    ids = [ask(customer, event, join_waitlist=True) for customer in customers[:4]]
    queue = BookingQueue(runtime.redis_client())
    queue_key = f"bq:{{{event.id}}}:queue"
    for request in queue.head(event.id, 10):  # as the old release wrote them
        old = json.dumps(request_fields(request))
        redis_client.zrem(queue_key, f"{request.seq}:{encode_request(request)}")
        redis_client.zadd(queue_key, {f"{request.seq}:{old}": request.seq})
        redis_client.hset(status_key(event.id, request.booking_id), "request", old)
    assert [bookings.queued_booking_view(i)[2]["queue_position"] for i in ids] == [1, 2, 3, 4]
    assert queue.repair_sequence(event.id, 10)  # as after a Redis that lost its counter
    assert [bookings.queued_booking_view(i)[2]["queue_seq"] for i in ids] == [11, 12, 13, 14]
    ids.append(ask(customers[4], event, join_waitlist=True))
    assert drain(event).decided == 5
    outcome = statuses(db, event)
    assert [outcome[i] for i in ids] == ["held"] * 3 + ["waitlisted"] * 2
    assert [load(db, i).queue_seq for i in ids] == [11, 12, 13, 14, 15]
    assert_counters_agree(db, event)


def test_queue_position_counts_down_as_batches_are_decided(db, organizer, make_event, customers, monkeypatch):
    event = make_event(organizer, quota=50)
    ids = [ask(customer, event) for customer in customers[:6]]
    assert [bookings.queued_booking_view(i)[2]["queue_position"] for i in ids] == [1, 2, 3, 4, 5, 6]
    queue = BookingQueue(runtime.redis_client())
    first = queue.head(event.id, 4)
    allocation.decide_batch(runtime.database(), event.id, first)  # one batch, as a drainer does it
    queue.remove_decided(event.id, first)
    assert bookings.queued_booking_view(ids[0]) is None
    assert [bookings.queued_booking_view(i)[2]["queue_position"] for i in ids[4:]] == [1, 2]
    with db.unit_of_work() as uow:
        held = bookings.booking_view(uow, bookings.get_booking(uow, ids[0]))
    assert held["status"] == "held" and held["hold_expires_at"] > utcnow()


def test_a_queued_request_is_told_how_long_it_may_wait(organizer, make_event, customers):
    event = make_event(organizer, quota=50)
    ids = [ask(customer, event) for customer in customers[:3]]
    assert bookings.queued_booking_view(ids[2])[2]["estimated_wait_seconds"] is None  # no rate yet
    BookingQueue(runtime.redis_client()).record_rate(event.id, 2.0)
    assert bookings.queued_booking_view(ids[2])[2]["estimated_wait_seconds"] == 1.5  # third at 2/s


def test_a_replayed_batch_decides_nothing_twice(db, organizer, make_event, customers):
    """A drainer that crashed after commit but before trimming the queue replays the batch."""
    event = make_event(organizer, quota=3)
    for customer in customers[:5]:
        ask(customer, event, join_waitlist=True)
    queue = BookingQueue(runtime.redis_client())
    batch = queue.head(event.id, 100)
    allocation.decide_batch(runtime.database(), event.id, batch)
    first = statuses(db, event)
    allocation.decide_batch(runtime.database(), event.id, batch)  # the replay
    assert statuses(db, event) == first
    drain(event)  # and the normal path over the same batch
    assert statuses(db, event) == first
    assert_counters_agree(db, event)


def test_concurrent_deciders_of_one_batch_never_oversell(db, organizer, make_event, customers):
    """Even bypassing the Redis lock, the database serializes deciders and refuses an oversell."""
    event = make_event(organizer, quota=7)
    for customer in customers:
        ask(customer, event)
    batch = BookingQueue(runtime.redis_client()).head(event.id, 100)
    halves = [batch[:15], batch[15:], batch, batch[5:25]]
    threads = [
        threading.Thread(target=allocation.decide_batch, args=(runtime.database(), event.id, part))
        for part in halves
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = assert_counters_agree(db, event)
    assert counts["held"] == 7
    assert len(statuses(db, event)) == 30


@pytest.mark.parametrize(
    ("model", "values"),
    [(TicketType, {"held": 6, "sold": 5}), (TicketType, {"held": -1}), (Event, {"capacity": 10, "held": 6, "sold": 5})],
)  # fmt: skip
def test_the_database_refuses_an_oversell_whatever_the_code_does(db, organizer, make_event, model, values):
    """Invariant 1 holds below the code: held + sold never passes the quota (10 here) or the capacity."""
    event = make_event(organizer, quota=10)
    row_id = event.ticket_types[0].id if model is TicketType else event.id
    with db.unit_of_work() as uow, pytest.raises(IntegrityError):
        uow.session.execute(update(model).where(model.id == row_id).values(**values))
        uow.session.flush()


def test_parallel_drain_tasks_for_one_event_take_turns(db, organizer, make_event, customers):
    event = make_event(organizer, quota=10)
    for customer in customers:
        ask(customer, event)
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(drain(event))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.decided for report in reports) == 30
    assert assert_counters_agree(db, event)["held"] == 10


def test_customer_limits_hold_across_batches(db, organizer, make_event, make_user):
    event = make_event(organizer, quota=100, max_per_booking=4, max_per_user=5)
    ada = make_user()
    first = ask(ada, event, 4)
    second = ask(ada, event, 1)  # a second pending booking at the same event
    drain(event)
    assert (load(db, first).status, load(db, second).reason) == ("held", "hold_exists")
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, ada, first)
        uow.commit()
    third = ask(ada, event, 4)
    drain(event)
    assert load(db, third).status == "held"


def test_free_tickets_are_confirmed_without_a_hold(db, organizer, make_event, make_user):
    event = make_event(organizer, price=0, quota=2)
    booking_id = ask(make_user(), event, 2)
    drain(event)
    booking = load(db, booking_id)
    assert (booking.status, booking.total, booking.hold_expires_at) == ("confirmed", 0, None)
    assert assert_counters_agree(db, event)["sold"] == 2


def test_price_is_fixed_when_the_hold_is_made(db, organizer, make_event, customers):
    event = make_event(organizer, ticket_types=[{"name": "S", "price": 1000, "quota": 10, "surge_price": 1800,
                                                 "surge_threshold": 2, "sold": 1}])  # fmt: skip
    early = ask(customers[0], event, 1)
    drain(event)
    with db.unit_of_work() as uow:  # a sale elsewhere crosses the surge threshold
        tt = uow.session.get(type(event.ticket_types[0]), event.ticket_types[0].id)
        tt.sold += 1
        uow.session.get(type(event), event.id).sold += 1
        uow.commit()
    late = ask(customers[1], event, 2)
    drain(event)
    assert load(db, early).total == 1000
    assert load(db, late).total == 3600


def test_lost_wake_up_is_repaired_by_the_sweep(db, organizer, make_event, customers, redis_client):
    event = make_event(organizer, quota=5)
    booking_id = ask(customers[0], event)
    redis_client.delete(f"bq:{{{event.id}}}:pending")  # as if the API died before scheduling
    assert allocation.sweep_allocation_queues(runtime.database()) == [str(event.id)]
    drain(event)
    assert load(db, booking_id).status == "held"
    assert allocation.sweep_allocation_queues(runtime.database()) == []


def test_sweep_leaves_a_queue_alone_while_its_drainer_holds_the_lock(
    organizer, make_event, customers, redis_client
):
    event = make_event(organizer)
    ask(customers[0], event)
    with redis_client.lock(f"bq:{{{event.id}}}:lock", timeout=5):
        assert allocation.sweep_allocation_queues(runtime.database()) == []
        assert drain(event).busy


def test_missing_redis_status_falls_back_to_the_database(db, organizer, make_event, customers, redis_client):
    event = make_event(organizer, quota=1)
    booking_id = ask(customers[0], event)
    queue = BookingQueue(redis_client)
    batch = queue.head(event.id, 10)
    # committed, then the process died before publishing
    allocation.decide_batch(runtime.database(), event.id, batch)
    redis_client.delete(status_key(event.id, booking_id))
    assert bookings.queued_booking_view(booking_id) is None
    with db.unit_of_work() as uow:
        assert bookings.booking_view(uow, bookings.get_booking(uow, booking_id))["status"] == "held"
    drain(event)
    assert queue_length(event) == 0


def test_idempotency_key_gives_the_same_booking_and_refuses_another_body(organizer, make_event, customers):
    event = make_event(organizer)
    first = ask(customers[0], event, 2, key="order-42")
    assert ask(customers[0], event, 2, key="order-42") == first
    with pytest.raises(Invalid) as refused:
        ask(customers[0], event, 3, key="order-42")
    assert refused.value.name == "idempotency_key_reused"
    assert ask(customers[1], event, 2, key="order-42") != first  # keys belong to one customer
    assert queue_length(event) == 2
    other = make_event(organizer)  # and to one event: its slot of a Redis Cluster is the event's
    assert ask(customers[0], other, 3, key="order-42") != first
    assert queue_length(other) == 1


@pytest.mark.parametrize(
    ("fields", "error", "name"),
    [({"status": "draft"}, NotFound, "not_found"), ({"status": "cancelled"}, Conflict, "event_cancelled"),
     ({"sales_start": utcnow() + dt.timedelta(days=1)}, Conflict, "sales_closed"),
     ({"starts_at": utcnow() - dt.timedelta(hours=1)}, Conflict, "sales_closed"),
     ({"max_per_booking": 2}, Invalid, "limit_exceeded")],
)  # fmt: skip
def test_requests_the_snapshot_can_refuse_never_reach_the_queue(
    organizer, make_event, customers, fields, error, name
):
    event = make_event(organizer, **fields)
    with pytest.raises(error) as refused:
        ask(customers[0], event, 3)
    assert refused.value.name == name
    assert queue_length(event) == 0


def test_another_events_ticket_type_is_refused(organizer, make_event, customers):
    event, other = make_event(organizer), make_event(organizer)
    with pytest.raises(Invalid) as refused:
        ask(customers[0], event, 1, ticket_type=other.ticket_types[0])
    assert refused.value.name == "unknown_ticket_type"


def test_unknown_event_is_not_found(customers):
    import uuid

    from core.inventory import Line

    with pytest.raises(NotFound):
        bookings.request_booking(
            runtime.database(),
            customers[0].id,
            bookings.BookingAsk(uuid.uuid4(), (Line(uuid.uuid4(), 1),)),
            session_id="s",
        )


def test_booking_rows_record_the_acceptance_order(db, organizer, make_event, customers):
    event = make_event(organizer, quota=100)
    ids = [ask(customer, event) for customer in customers[:8]]
    allocation.drain_event_queue(runtime.database(), event.id, batch_size=3)
    with db.unit_of_work() as uow:
        ordered = uow.session.scalars(
            select(Booking.id).where(Booking.event_id == event.id).order_by(Booking.queue_seq)
        )
        assert list(ordered) == ids
