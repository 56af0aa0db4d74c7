"""How drains are scheduled: one drain under way answers for the event's queue (no spare drain
tasks behind it), and no request is ever left without a drain to decide it — not one queued in
the instant a drainer lets go, not one queued after a drainer was killed between batches."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from core import runtime
from core.booking_queue import BookingQueue, lock_key
from core.jobs import Job
from core.services import allocation
from tests.integration.booking_helpers import ask, drain, queue_length, statuses
from tests.jobs import names, take_jobs
from tests.waiting_room_helpers import add_waiting_room, open_sales_now

CUSTOMERS = 8
ROUNDS = 200


def test_a_drain_under_way_answers_for_the_queue_until_its_last_look_finds_it_empty(
    db, organizer, make_event, customers, redis_client
):
    event = make_event(organizer, quota=50)
    queue = BookingQueue(redis_client)
    first = ask(customers[0], event)
    assert names(take_jobs()) == ["drain_event"]
    assert [r.booking_id for r in queue.next_batch(event.id, 10, last_look=False)[0]] == [first]
    ask(customers[1], event)
    assert take_jobs() == []  # the drain under way will read it: no second drain behind it
    batch, _ = queue.next_batch(event.id, 10, last_look=True)
    assert len(batch) == 2  # not empty: the last look changes nothing
    ask(customers[2], event)
    assert take_jobs() == []
    three, _ = queue.next_batch(event.id, 10, last_look=False)
    allocation.decide_batch(db, event.id, three)
    queue.remove_decided(event.id, three)
    take_jobs()  # the batch's checkouts
    assert queue.next_batch(event.id, 10, last_look=False) == ([], False)  # lingering on an empty queue
    ask(customers[3], event)
    assert take_jobs() == []  # the lingering drain reads it
    lingered, _ = queue.next_batch(event.id, 10, last_look=True)
    allocation.decide_batch(db, event.id, lingered)
    queue.remove_decided(event.id, lingered)
    take_jobs()
    assert queue.next_batch(event.id, 10, last_look=True) == ([], False)  # the last look: the drainer lets go
    last = ask(customers[4], event)
    assert names(take_jobs()) == ["drain_event"]  # queued after the last look: a new drain
    drain(event)
    assert statuses(db, event)[last] == "held"


def test_a_request_queued_as_a_drainer_lets_go_is_never_left_waiting(
    db, organizer, make_event, customers, monkeypatch
):
    """Hundreds of times over: one request starts a drain, then three customers book at once,
    each after a random pause spread over that drain's short life (no lingering), so requests land
    before, during and after its last look. Every drain the booking step schedules runs in a thread
    of its own, as a worker would run it. After each round, once those drains are done, nothing
    may be left queued: no later request and no sweep comes to rescue it. Batches are "decided"
    by noting them (the database is not what is raced here), so a drain lives a few milliseconds."""
    event = make_event(organizer, quota=10_000)
    drains: list[threading.Thread] = []
    failures: list[BaseException] = []
    decided: list = []
    monkeypatch.setattr(
        allocation, "decide_batch", lambda _db, _event_id, batch, **_: decided.extend(batch) or []
    )

    def drain_in_a_thread(event_id: str) -> None:
        try:
            allocation.drain_event_queue(runtime.database(), event_id)
        except BaseException as error:
            failures.append(error)

    def dispatch(job: Job, kwargs: dict) -> None:
        assert job == Job.DRAIN_EVENT, job
        drains.append(threading.Thread(target=drain_in_a_thread, args=(kwargs["event_id"],)))
        drains[-1].start()

    def book_after(customer, pause: float):
        time.sleep(pause)
        return ask(customer, event, join_waitlist=True)

    monkeypatch.setattr(runtime, "_dispatcher", dispatch)
    rng = random.Random(22)
    booked, stranded = [], []
    with ThreadPoolExecutor(3) as pool:
        for _ in range(ROUNDS):
            booked.append(ask(customers[0], event, join_waitlist=True))
            late = [pool.submit(book_after, customer, rng.uniform(0, 0.02)) for customer in customers[1:4]]
            booked += [future.result() for future in late]
            for thread in list(drains):  # only the booking step sends drains, and it is done
                thread.join(timeout=30)
            if queue_length(event):
                stranded.append(queue_length(event))
                drain(event)
    assert failures == []
    assert stranded == []
    assert {request.booking_id for request in decided} == set(booked)
    assert len(drains) >= ROUNDS  # every round started at least one drain


def test_an_opening_that_comes_while_a_drain_lingers_puts_the_entrants_first(
    db, organizer, make_event, customers, redis_client
):
    """A drain started before the opening (the queue empty: its requests wait in the room) still
    lingers when the opening comes and the first request after it closes the room: the drain
    shuffles the room before deciding that request, which goes behind every entrant."""
    event = make_event(organizer, quota=3)
    add_waiting_room(db, event)
    entrants = {ask(customer, event) for customer in customers[:6]}
    lingering = threading.Thread(
        target=allocation.drain_event_queue, args=(db, event.id), kwargs={"linger": 3.0}
    )
    lingering.start()
    while not BookingQueue(redis_client).is_draining(event.id):
        time.sleep(0.005)
    open_sales_now(db, event)
    later = ask(customers[6], event)  # closes the room: queued behind the numbers kept for it
    lingering.join()
    outcome = statuses(db, event)
    assert {booking_id for booking_id, status in outcome.items() if status == "held"} <= entrants
    assert outcome[later] == "rejected" and set(outcome) == {*entrants, later}


KILLED_BETWEEN_BATCHES = """
import os, signal, sys
from core import runtime
from core.config import Settings
runtime.configure(Settings(database_url=sys.argv[1], redis_url=sys.argv[2]))
import worker  # the job dispatcher, for the batch's checkouts
from core.services import allocation

decide = allocation.decide_batch
decided = []


def decide_then_die(db, event_id, batch, **kwargs):
    if decided:
        os.kill(os.getpid(), signal.SIGKILL)  # after the first batch, before the second
    decided.append(batch)
    return decide(db, event_id, batch, **kwargs)


allocation.decide_batch = decide_then_die
allocation.drain_event_queue(runtime.database(), sys.argv[3], batch_size=2)
"""


def test_a_drainer_killed_between_batches_is_replaced_by_the_sweep(
    db, settings, organizer, make_event, customers, redis_client
):
    event = make_event(organizer, quota=50)
    ids = [ask(customer, event) for customer in customers[:4]]
    take_jobs()
    killed = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_BATCHES, settings.database_url,
                             settings.redis_url, str(event.id)], timeout=60)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert set(statuses(db, event)) == set(ids[:2])  # the first batch was decided
    late = ask(customers[4], event)
    assert "drain_event" not in names(take_jobs())  # the dead drain still answers for the queue
    assert allocation.sweep_allocation_queues(db) == []  # ... while its lock lasts
    redis_client.delete(lock_key(event.id))  # as if its 5 seconds had run out
    assert allocation.sweep_allocation_queues(db) == [str(event.id)]
    drain(event)
    assert set(statuses(db, event)) == {*ids, late}
    assert queue_length(event) == 0
