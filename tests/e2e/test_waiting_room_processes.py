"""The fair opening with real processes: gunicorn from the Procfile, Celery workers, beat.

400 customers enter the room in a known order and the opening comes: the winners are a fair
draw, not the first arrivals; every later request is decided after every entrant; the order
recomputed from the revealed seed is the order decided. And the shuffle under faults (a worker
SIGKILLed half-way, two beats): every entrant placed exactly once.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time

import pytest
import requests
from sqlalchemy import select

from core import runtime, shuffle_order
from core.booking_queue import queue_key
from core.inventory import Line
from core.models import Booking, WaitingRoom
from core.services import bookings
from core.waiting_room_queue import opening_key
from tests.e2e.test_allocation_processes import wait_until_decided
from tests.processes import procfile_command, running
from tests.waiting_room_helpers import add_waiting_room, open_sales_now, recomputed_queue_numbers

pytestmark = pytest.mark.e2e


def waiting_room_view(web, event) -> dict:
    return requests.get(f"{web}/api/v1/events/{event.id}/waiting-room", timeout=10).json()


def wait_for_shuffle(web, event, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while "seed" not in (view := waiting_room_view(web, event)):
        assert time.monotonic() < deadline, "the room was not shuffled"
        time.sleep(0.2)
    return view


def decisions(db, event) -> dict[str, tuple]:
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Booking.id, Booking.status, Booking.queue_seq, Booking.decided_at).where(
                Booking.event_id == event.id
            )
        )
        return {str(booking_id): (status, seq, decided_at) for booking_id, status, seq, decided_at in rows}


def test_a_fair_opening_over_http(db, organizer, make_event, many_customers, web, beat, start_worker):
    quota = 100
    event = make_event(organizer, quota=quota)
    add_waiting_room(db, event)
    start_worker()
    customers = many_customers(500)
    body = {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
    }

    def book(token):
        return requests.post(f"{web}/api/v1/bookings", json=body, headers={"Authorization": f"Bearer {token}"},
                             timeout=30)  # fmt: skip

    entered = [book(token) for _, token in customers[:400]]  # one after the other: a known order
    assert {(r.status_code, r.json()["waiting_room"], r.json()["queue_position"]) for r in entered} == {
        (202, True, None)
    }
    assert all(int(r.headers["Retry-After"]) > 60 for r in entered)  # pointing at the opening, an hour away
    entrants = [r.json()["id"] for r in entered]
    before = waiting_room_view(web, event)
    assert before["entrants"] == 400 and "seed" not in before
    open_sales_now(db, event)
    after = wait_for_shuffle(web, event)  # beat's sweep, a second at most after the opening
    later = [book(token).json()["id"] for _, token in customers[400:]]
    wait_until_decided(db, event, 500)

    assert after["seed_commitment"] == before["seed_commitment"]
    assert hashlib.sha256(bytes.fromhex(after["seed"])).hexdigest() == after["seed_commitment"]
    decided = decisions(db, event)
    recomputed = recomputed_queue_numbers(after, entrants)
    assert {b: decided[b][1] for b in entrants} == recomputed
    order = sorted(entrants, key=recomputed.get)
    assert [decided[b][0] for b in order] == ["held"] * quota + ["rejected"] * (400 - quota)
    winners = {b for b in entrants if decided[b][0] == "held"}
    share_among_first_half = len(winners & set(entrants[:200])) / quota
    assert 0.25 <= share_among_first_half <= 0.75  # near a half (first come first served: all of them)
    last_entrant_decided = max(decided[b][2] for b in entrants)
    assert min(decided[b][1] for b in later) > max(recomputed.values())
    assert all(decided[b][2] >= last_entrant_decided and decided[b][0] == "rejected" for b in later)


def test_the_shuffle_is_exactly_once_with_a_worker_killed_during_it_and_two_beats(
    db, organizer, make_event, many_customers, stack_env, tmp_path, start_worker
):
    entrants_count, quota = 3000, 300
    event = make_event(organizer, quota=quota)
    add_waiting_room(db, event)
    items = (Line(event.ticket_types[0].id, 1),)
    entrants = [
        str(
            bookings.request_booking(
                runtime.database(), user_id, bookings.BookingAsk(event.id, items), session_id="s"
            )["id"]
        )
        for user_id, _ in many_customers(entrants_count)
    ]
    redis = runtime.redis_client()
    beat_command = procfile_command("beat").split(" --schedule")[0]
    # One entrant per Redis step, so the shuffle is long enough to be killed in the middle.
    worker = start_worker(WAITING_ROOM_CHUNK="1")
    with running(f"{beat_command} --schedule {tmp_path / 'beat-1'}", stack_env(), lambda: True), \
         running(f"{beat_command} --schedule {tmp_path / 'beat-2'}", stack_env(), lambda: True):  # fmt: skip
        open_sales_now(db, event)
        deadline = time.monotonic() + 60
        while redis.zcard(queue_key(event.id)) < entrants_count // 10:
            assert time.monotonic() < deadline, "the shuffle did not start"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        placed = redis.zcard(queue_key(event.id))
        assert 0 < placed < entrants_count and not redis.hexists(opening_key(event.id), "shuffled")
        start_worker(WAITING_ROOM_CHUNK="1")
        wait_until_decided(db, event, entrants_count, timeout=180)
    with db.unit_of_work() as uow:
        room = uow.session.get(WaitingRoom, event.id)
        view = {"seed": room.seed, "first_queue_number": room.first_queue_seq,
                "recompute": shuffle_order.RECOMPUTE}  # fmt: skip
        assert room.entrants == entrants_count
    decided = decisions(db, event)
    assert sorted(seq for _, seq, _ in decided.values()) == list(range(1, entrants_count + 1))
    assert {b: decided[b][1] for b in entrants} == recomputed_queue_numbers(view, entrants)
    assert sum(status == "held" for status, _, _ in decided.values()) == quota
