"""A rush on one code, with real processes: a voucher good for 100 is redeemed exactly 100 times,
by the 100 earliest requests, over HTTP with two workers and with a worker SIGKILLed mid-batch."""

from __future__ import annotations

import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from core import runtime
from core.inventory import Line
from core.models import Booking, Voucher
from core.services import bookings
from tests.e2e.test_allocation_processes import decided_count, wait_until_decided
from tests.integration.booking_helpers import assert_counters_agree
from tests.integration.voucher_helpers import make_voucher

pytestmark = pytest.mark.e2e

LIMIT, REQUESTS = 100, 2000


def assert_exactly_the_earliest_redeemed(db, event, voucher) -> None:
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Booking.queue_seq, Booking.status, Booking.reason)
            .where(Booking.event_id == event.id)
            .order_by(Booking.queue_seq)
        ).all()
        redeemed = uow.session.get(Voucher, voucher.id).redeemed
    assert [seq for seq, _, _ in rows] == list(range(1, REQUESTS + 1))  # each decided once, none lost
    assert [(status, reason) for _, status, reason in rows[:LIMIT]] == [("held", None)] * LIMIT
    assert {(status, reason) for _, status, reason in rows[LIMIT:]} == {("rejected", "voucher_exhausted")}
    assert redeemed == LIMIT
    assert assert_counters_agree(db, event)["held"] == LIMIT


def test_a_rush_on_one_code_over_http_redeems_it_exactly_its_limit(
    db, organizer, make_event, many_customers, web, beat, start_worker
):
    event = make_event(organizer, quota=10 * REQUESTS)
    voucher = make_voucher(db, organizer, event, "RUSH-HOUR", max_redemptions=LIMIT)
    start_worker()
    start_worker()
    body = {"event_id": str(event.id), "voucher_code": "RUSH-HOUR",
            "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}]}  # fmt: skip

    def book(customer):
        _, token = customer
        answer = requests.post(f"{web}/api/v1/bookings", json=body, headers={"Authorization": f"Bearer {token}"},
                               timeout=30)  # fmt: skip
        return answer.status_code

    with ThreadPoolExecutor(32) as pool:
        assert set(pool.map(book, many_customers(REQUESTS))) == {202}
    wait_until_decided(db, event, REQUESTS)
    assert_exactly_the_earliest_redeemed(db, event, voucher)


def test_a_rush_on_one_code_with_a_worker_killed_mid_batch(db, organizer, make_event, many_customers, beat,
                                                           start_worker):  # fmt: skip
    event = make_event(organizer, quota=10 * REQUESTS)
    voucher = make_voucher(db, organizer, event, "RUSH-HOUR", max_redemptions=LIMIT)
    items = (Line(event.ticket_types[0].id, 1),)
    for user_id, _ in many_customers(REQUESTS):
        bookings.request_booking(
            runtime.database(),
            user_id,
            bookings.BookingAsk(event.id, items, voucher_code="RUSH-HOUR"),
            session_id="s",
        )
    # Small batches make many transactions, so the kill lands in the middle of one; the first kill
    # comes while redemptions are still being handed out.
    worker = start_worker(ALLOCATION_BATCH_SIZE="10")
    rng = random.Random(13)
    for threshold in (LIMIT // 2, REQUESTS // 2):
        while decided_count(db, event) < threshold:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.02))
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        worker = start_worker(ALLOCATION_BATCH_SIZE="10")
    wait_until_decided(db, event, REQUESTS)
    assert_exactly_the_earliest_redeemed(db, event, voucher)
