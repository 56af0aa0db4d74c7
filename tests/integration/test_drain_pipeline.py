"""A drain's pipeline (`core.drain_pipeline`). The batch it reads ahead, while PostgreSQL stores
the last rows of the one being decided, is decided next, once, in queue order with what was
queued since; a waiting room that opens between the read and its use still puts its entrants
first. A batch finished behind the next one is off the queue when the drain ends, and one whose
finishing failed fails the drain, lets go of the lock, and is decided nothing twice.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import redis
from sqlalchemy import select

from core import request_ids
from core.booking_queue import BookingQueue, lock_key
from core.drain_pipeline import DrainPipeline
from core.models import Booking, utcnow
from core.services import allocation
from tests.integration.booking_helpers import ask, queue_length, statuses
from tests.waiting_room_helpers import add_waiting_room

CUSTOMERS = 11
# Time enough for the drain to start (and find the room not yet due) before the opening.
OPENING_IN = dt.timedelta(seconds=3)


def _seqs(db, event) -> dict:
    with db.unit_of_work() as uow:
        return dict(
            uow.session.execute(
                select(Booking.id, Booking.queue_seq).where(Booking.event_id == event.id)
            ).all()
        )


def _read_ahead_then(monkeypatch, first_time) -> list[list]:
    """Make each read ahead call `first_time` (the first time only) before reading; returns the
    booking ids each read ahead found."""
    read = DrainPipeline.read_ahead
    found: list[list] = []

    def read_ahead(reads, batch):
        if not found:
            first_time()
        read(reads, batch)
        found.append([request.booking_id for request in reads._ahead[0]])

    monkeypatch.setattr(DrainPipeline, "read_ahead", read_ahead)
    monkeypatch.setattr(allocation, "COPY_CHUNK", 2)  # batches of four are copied in the background
    return found


def test_the_batch_read_ahead_is_decided_next_once_and_in_order(
    db, organizer, make_event, customers, monkeypatch
):
    event = make_event(organizer, quota=7)
    first = [ask(customer, event) for customer in customers[:10]]
    late: list = []
    found = _read_ahead_then(monkeypatch, lambda: late.append(ask(customers[10], event)))
    finish, finished_under = allocation._finish_batch, []

    def finish_noting_the_request_id(*args):
        finished_under.append(request_ids.current())
        finish(*args)

    monkeypatch.setattr(allocation, "_finish_batch", finish_noting_the_request_id)
    token = request_ids.bind("drain-task-request")
    try:
        report = allocation.drain_event_queue(db, event.id, batch_size=4)
    finally:
        request_ids.unbind(token)

    assert found[:2] == [first[4:8], [*first[8:], *late]]  # what came after each batch, and no more
    assert (report.decided, report.batches) == (11, 3)  # nothing read twice
    # Finished behind the next batch or not, each batch's log line names the drain task's request.
    assert finished_under == ["drain-task-request"] * 3
    outcome, seqs = statuses(db, event), _seqs(db, event)
    in_order = sorted(outcome, key=seqs.__getitem__)
    assert in_order == [*first, *late]
    assert [outcome[b] for b in in_order] == ["held"] * 7 + ["rejected"] * 4
    assert queue_length(event) == 0


def test_an_opening_between_the_read_ahead_and_its_use_puts_the_entrants_first(
    db, organizer, make_event, customers, monkeypatch
):
    event = make_event(organizer, quota=4)
    # Requests queued before the event got its room: a batch to decide while the room is not
    # yet shuffled in (they are judged against the opening set since, so they find sales closed).
    queued = [ask(customer, event) for customer in customers[:5]]
    add_waiting_room(db, event)
    entrants = {ask(customer, event) for customer in customers[5:9]}
    # The opening comes while the first batch is stored (its transaction holds the event's row,
    # so the opening is set before the drain): then a request closes the room.
    add_waiting_room(db, event, sales_in=OPENING_IN)
    late: list = []

    def opening():
        time.sleep(max(0.0, (event.sales_start - utcnow()).total_seconds()))
        late.append(ask(customers[9], event))

    found = _read_ahead_then(monkeypatch, opening)
    allocation.drain_event_queue(db, event.id, batch_size=3)

    assert found[0] == [*queued[3:], *late]  # read ahead before the room was shuffled in
    outcome, seqs = statuses(db, event), _seqs(db, event)
    assert set(outcome) == {*queued, *entrants, *late}
    assert max(seqs[b] for b in entrants) < seqs[late[0]]
    assert [outcome[b] for b in entrants] == ["held"] * 4  # the four tickets
    assert outcome[late[0]] == "rejected"  # decided behind every entrant, not with the batch read ahead


def test_a_batch_whose_finishing_fails_fails_the_drain_and_is_decided_once(
    db, organizer, make_event, customers, monkeypatch, redis_client
):
    event = make_event(organizer, quota=7)
    asked = [ask(customer, event) for customer in customers[:10]]
    _read_ahead_then(monkeypatch, lambda: None)
    remove = BookingQueue.remove_decided
    removals: list[int] = []

    def remove_once_then_fail(queue, event_id, batch):
        removals.append(len(batch))
        if len(removals) == 2:  # the second batch, finished behind the third
            raise redis.ConnectionError("Redis went away")
        return remove(queue, event_id, batch)

    monkeypatch.setattr(BookingQueue, "remove_decided", remove_once_then_fail)
    with pytest.raises(redis.ConnectionError):
        allocation.drain_event_queue(db, event.id, batch_size=4)
    assert removals == [4, 4]  # the third batch was decided, but not finished after the failure
    assert not redis_client.exists(lock_key(event.id))  # let go: the retry need not wait for it
    assert queue_length(event) == 6  # the second and third batches wait to be decided again

    report = allocation.drain_event_queue(db, event.id, batch_size=4)
    assert report.decided == 6 and queue_length(event) == 0
    outcome, seqs = statuses(db, event), _seqs(db, event)
    assert sorted(outcome, key=seqs.__getitem__) == asked
    assert [outcome[b] for b in asked] == ["held"] * 7 + ["rejected"] * 3
