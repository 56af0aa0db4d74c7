"""Pushed status on real PostgreSQL and Redis, without a web: the clients woken by one decided
batch, and those asking again just after it, take their bookings from one read shared by the
process; a client whose position moved is told the new one without reading anything; a batch's
views are the ones each customer reads."""

from __future__ import annotations

import threading
import time

import pytest

from core import live_status, runtime
from core.booking_queue import booking_queue
from core.services import booking_updates, bookings
from tests.integration.booking_helpers import ask, drain

CUSTOMERS = 5


@pytest.fixture()
def counted(monkeypatch):
    """How often the live status reads a booking by itself, and a batch for everyone."""
    calls = {"read_booking": 0, "decided_views": 0}

    def counting(name):
        real = getattr(booking_updates, name)

        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(booking_updates, name, call)

    counting("read_booking")
    counting("decided_views")
    return calls


def long_polls(db, waiting: list[tuple], seconds: float = 30) -> tuple[list[threading.Thread], dict]:
    """A long poll in a thread of its own for each (customer, booking), registered before this returns."""
    answers = {}
    threads = [
        threading.Thread(
            target=lambda c=customer, b=booking_id: answers.update(
                {b: booking_updates.wait_for_change(db, c.id, b, seconds)}
            )
        )
        for customer, booking_id in waiting
    ]
    before = live_status.hub().watching()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while live_status.hub().watching() < before + len(threads):
        assert time.monotonic() < deadline, "the long polls never started waiting"
        time.sleep(0.01)
    return threads, answers


def test_a_batch_reads_as_each_customer_reads_their_booking(db, organizer, make_event, customers):
    event = make_event(organizer, quota=2)
    asked = [(customer, ask(customer, event, join_waitlist=i < 4)) for i, customer in enumerate(customers)]
    drain(event)
    views = bookings.decided_views(db, [booking_id for _, booking_id in asked])
    assert views == {b: (c.id, bookings.read_booking(db, c.id, b)) for c, b in asked}
    assert [views[b][1]["status"] for _, b in asked] == [
        "held",
        "held",
        "waitlisted",
        "waitlisted",
        "rejected",
    ]
    assert [views[b][1]["waitlist_position"] for _, b in asked[2:4]] == [1, 2]


def test_the_clients_woken_by_a_batch_share_one_read_of_it(db, organizer, make_event, customers, counted):
    event = make_event(organizer, quota=10)
    waiting = [(customer, ask(customer, event)) for customer in customers[:3]]
    threads, answers = long_polls(db, waiting)
    drain(event)  # one batch decides all three
    for thread in threads:
        thread.join(timeout=30)
    assert {b: answers[b] for _, b in waiting} == {b: bookings.read_booking(db, c.id, b) for c, b in waiting}
    assert {answer["status"] for answer in answers.values()} == {"held"}
    # Each long poll read its booking twice before it waited (before and after its watch was
    # registered) and never after: the decided batch was read once for the three.
    assert counted == {"read_booking": 2 * 3, "decided_views": 1}
    # A client asking again just after its decision takes it from the same read.
    customer, booking_id = waiting[0]
    assert next(booking_updates.status_updates(db, customer.id, booking_id, 15)) == answers[booking_id]
    assert counted == {"read_booking": 2 * 3, "decided_views": 1}


def test_a_client_whose_position_moved_is_told_without_a_read(db, organizer, make_event, customers, counted):
    event = make_event(organizer, quota=10)
    booking_ids = [ask(customer, event) for customer in customers]
    booking_queue().record_rate(event.id, 2.0)
    last = (customers[-1], booking_ids[-1])
    assert bookings.read_booking(db, last[0].id, last[1])["queue_position"] == 5
    threads, answers = long_polls(db, [last])
    # Two requests decided ahead of it: position 5 → 3, which is more than a tenth.
    runtime.redis_client().publish(live_status.channel(event.id), live_status.decision_message(2, []))
    threads[0].join(timeout=30)
    answer = answers[last[1]]
    assert (answer["status"], answer["queue_position"], answer["estimated_wait_seconds"]) == (
        "queued",
        3,
        1.5,
    )
    assert counted == {"read_booking": 2, "decided_views": 0}


def test_someone_elses_decided_booking_is_read_as_they_may_see_it(
    db, organizer, make_event, customers, counted
):
    event = make_event(organizer, quota=10)
    booking_id = ask(customers[0], event)
    threads, answers = long_polls(db, [(organizer, booking_id)])
    drain(event)
    threads[0].join(timeout=30)
    assert answers[booking_id]["status"] == "held" and "booking_page_url" not in answers[booking_id]
    assert counted == {"read_booking": 3, "decided_views": 1}
