"""Reserved seating with real processes: a rush on a 2,000-seat plan with a worker SIGKILLed
mid-batch, chosen seats racing over HTTP, and a seat on the ticket PDF, in its signed QR claims
and at the door."""

from __future__ import annotations

import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask_jwt_extended import create_access_token
from sqlalchemy import select

from core import runtime
from core.inventory import Line
from core.models import Booking, SeatAssignment, TicketType
from core.seating.assigned import seat_words
from core.services import bookings
from core.ticket_signing import load_public_key, verify_ticket_payload
from tests.e2e.test_allocation_processes import decided_count, wait_until_decided
from tests.integration.booking_helpers import assert_counters_agree
from tests.integration.seating_helpers import assert_map_agrees, replay_in_queue_order, seat_ids, seated_event
from tests.pdf_readback import read_pdf

pytestmark = pytest.mark.e2e


def test_a_rush_of_groups_on_a_2000_seat_plan_with_a_worker_killed_mid_batch(
    db, organizer, make_event, many_customers, beat, start_worker
):
    event = seated_event(make_event, organizer, rows=40, seats_per_row=50, max_per_booking=6)
    rng = random.Random(18)
    requests_count = 3000
    for user_id, _ in many_customers(requests_count):
        line = Line(event.ticket_types[0].id, rng.randint(1, 6))
        bookings.request_booking(
            runtime.database(), user_id, bookings.BookingAsk(event.id, (line,)), session_id="s"
        )
    worker = start_worker(ALLOCATION_BATCH_SIZE="50")
    while decided_count(db, event) < requests_count // 4:
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.05))
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    start_worker(ALLOCATION_BATCH_SIZE="50")
    wait_until_decided(db, event, requests_count, timeout=300)

    together, apart = replay_in_queue_order(db, event)
    assert together > apart * 10  # a rush of small groups sits together nearly always
    counters = assert_counters_agree(db, event)
    live = len(_live(db, event))
    assert counters["held"] == live == 2000  # sold out, every seat once
    assert_map_agrees(db, event)


def _live(db, event) -> list:
    with db.unit_of_work() as uow:
        return uow.session.scalars(
            select(SeatAssignment.seat_id).where(
                SeatAssignment.event_id == event.id, SeatAssignment.released_at.is_(None)
            )
        ).all()


def test_chosen_seats_racing_over_http_go_to_the_first_in_the_queue(
    db, organizer, make_event, many_customers, web, start_worker
):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=4)
    ids = seat_ids(db, event)
    contested = [str(ids[("A", "2")]), str(ids[("A", "3")]), str(ids[("A", "4")])]
    start_worker()
    start_worker()
    rng = random.Random(5)
    tt = str(event.ticket_types[0].id)

    def book(customer):
        _, token = customer
        chosen = rng.sample(contested, rng.randint(1, 2))
        body = {"event_id": str(event.id), "items": [{"ticket_type_id": tt, "seat_ids": chosen}]}
        answer = requests.post(f"{web}/api/v1/bookings", json=body, headers={"Authorization": f"Bearer {token}"},
                               timeout=30)  # fmt: skip
        return answer.status_code, answer.json()["id"], set(chosen)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(book, many_customers(60)))
    assert {status for status, _, _ in results} == {202}
    wait_until_decided(db, event, len(results))
    wanted = {booking_id: chosen for _, booking_id, chosen in results}
    with db.unit_of_work() as uow:
        decided = uow.session.execute(
            select(Booking.id, Booking.status, Booking.reason)
            .where(Booking.event_id == event.id)
            .order_by(Booking.queue_seq)
        ).all()
    taken: set = set()
    for booking_id, status, reason in decided:
        chosen = wanted[str(booking_id)]
        if taken & chosen:
            assert (status, reason) == ("rejected", "seat_unavailable")
        else:
            assert status == "held"
            taken |= chosen
    assert len(_live(db, event)) == len(taken)
    assert_map_agrees(db, event)


def test_a_seat_is_on_the_ticket_pdf_in_the_signed_qr_and_at_the_door(
    db, organizer, make_event, many_customers, web, start_worker, app
):
    event = seated_event(make_event, organizer, rows=3, seats_per_row=4)
    with db.unit_of_work() as uow:
        uow.session.get(
            TicketType, event.ticket_types[0].id
        ).price = 0  # free: confirmed at once, tickets issued
        uow.commit()
    ids = seat_ids(db, event)
    start_worker()
    [(_, token)] = many_customers(1)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"event_id": str(event.id),
            "items": [{"ticket_type_id": str(event.ticket_types[0].id), "seat_ids": [str(ids[("B", "2")])]}]}  # fmt: skip
    booking_id = requests.post(f"{web}/api/v1/bookings", json=body, headers=headers, timeout=30).json()["id"]
    deadline = time.monotonic() + 60
    while (
        not isinstance(
            listed := requests.get(
                f"{web}/api/v1/bookings/{booking_id}/tickets", headers=headers, timeout=30
            ).json(),
            list,
        )
        or not listed
    ):  # an error while the request is queued, then no tickets until they are issued
        assert time.monotonic() < deadline, "no tickets issued"
        time.sleep(0.2)
    [ticket] = listed
    assert ticket["seat"] == {"section": "Stalls", "row": "B", "label": "2"}

    pdf = requests.get(f"{web}/api/v1/bookings/{booking_id}/tickets.pdf", headers=headers, timeout=30)
    [page] = read_pdf(pdf.content)
    assert "Row B" in page.text and "Seat 2" in page.text and "Stalls" in page.text
    key = load_public_key(
        requests.get(f"{web}/api/v1/tickets/public-key", timeout=30).json()["public_key_b64"]
    )
    claims = verify_ticket_payload(page.qr_codes[0], key)
    assert claims.seat == seat_words(ticket["seat"]) == "Stalls, Row B, Seat 2"

    with app.app_context():
        staff_token = create_access_token(
            identity=str(organizer.id), additional_claims={"role": "organizer", "sid": "e2e"}
        )
    door = requests.post(f"{web}/api/v1/events/{event.id}/checkins", json={"code": page.qr_codes[0]},
                         headers={"Authorization": f"Bearer {staff_token}"}, timeout=30)  # fmt: skip
    assert door.status_code == 200 and door.json()["seat"] == ticket["seat"]
