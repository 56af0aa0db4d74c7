"""The allocation engine with real processes: gunicorn, several Celery workers, beat.

Invariants 1-4 of docs/architecture.md ("Invariants") under load and under SIGKILL: never
oversell, exactly one outcome per accepted request, first come first served, nothing lost.
"""

from __future__ import annotations

import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from core import runtime
from core.inventory import Line
from core.models import Booking
from core.services import bookings
from tests.integration.booking_helpers import assert_counters_agree

pytestmark = pytest.mark.e2e


def decided_count(db, event) -> int:
    with db.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).where(Booking.event_id == event.id))


def wait_until_decided(db, event, expected: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while decided_count(db, event) < expected:
        assert time.monotonic() < deadline, f"only {decided_count(db, event)} of {expected} decided"
        time.sleep(0.2)


def assert_engine_invariants(db, event, accepted: int, quota: int) -> None:
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Booking.queue_seq, Booking.status)
            .where(Booking.event_id == event.id)
            .order_by(Booking.queue_seq)
        ).all()
        waitlisted = uow.session.scalars(
            select(Booking).where(Booking.event_id == event.id, Booking.status == "waitlisted")
        ).all()
        positions = sorted(bookings.booking_view(uow, b)["waitlist_position"] for b in waitlisted)
    # Exactly once: every accepted request has one booking, and the sequence has no gap.
    assert [seq for seq, _ in rows] == list(range(1, accepted + 1))
    # Never oversell, first come first served: the holds are exactly the earliest requests.
    held = [seq for seq, status in rows if status == "held"]
    assert held == list(range(1, quota + 1))
    assert assert_counters_agree(db, event)["held"] == quota
    assert positions == list(range(1, len(waitlisted) + 1))


def test_flash_sale_over_http_with_two_worker_processes(db, organizer, make_event, many_customers, web, beat,
                                                       start_worker):  # fmt: skip
    quota, requests_count = 100, 1500
    event = make_event(organizer, quota=quota)
    start_worker()
    start_worker()
    customers = many_customers(requests_count)
    tt = str(event.ticket_types[0].id)

    def book(index_and_customer):
        index, (_, token) = index_and_customer
        body = {"event_id": str(event.id), "items": [{"ticket_type_id": tt, "quantity": 1}],
                "join_waitlist": index % 2 == 0}  # fmt: skip
        response = requests.post(f"{web}/api/v1/bookings", json=body, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30)  # fmt: skip
        return response.status_code, response.json()["id"], token

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(book, enumerate(customers)))
    assert {status for status, _, _ in results} == {202}
    wait_until_decided(db, event, requests_count)
    assert_engine_invariants(db, event, requests_count, quota)

    def poll(result):
        _, booking_id, token = result
        return requests.get(f"{web}/api/v1/bookings/{booking_id}", headers={"Authorization": f"Bearer {token}"},
                            timeout=30).json()["status"]  # fmt: skip

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(poll, results))
    assert statuses.count("held") == quota
    assert "queued" not in statuses
    assert set(statuses) == {"held", "waitlisted", "rejected"}


def test_workers_killed_mid_batch_repeatedly_lose_nothing_and_decide_nothing_twice(
    db, organizer, make_event, many_customers, beat, start_worker
):
    quota, requests_count, kills = 300, 3000, 3
    event = make_event(organizer, quota=quota)
    items = (Line(event.ticket_types[0].id, 1),)
    for user_id, _ in many_customers(requests_count):
        bookings.request_booking(
            runtime.database(),
            user_id,
            bookings.BookingAsk(event.id, items, join_waitlist=True),
            session_id="s",
        )
    # Small batches make many transactions, so a kill lands in the middle of one.
    worker = start_worker(ALLOCATION_BATCH_SIZE="20")
    rng = random.Random(7)
    for kill in range(1, kills + 1):
        threshold = kill * requests_count // (kills + 2)
        while decided_count(db, event) < threshold:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        worker = start_worker(ALLOCATION_BATCH_SIZE="20")
    wait_until_decided(db, event, requests_count)
    assert_engine_invariants(db, event, requests_count, quota)
