"""Beat not running (issue 10, item 11): gunicorn and a Celery worker from the Procfile, no beat.
Holds run out, nobody sweeps them, and a new customer is still held, not told `sold_out`; the
overdue holds read `expired`, never `held` with an expiry in the past."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.e2e


def poll(web, booking_id, headers, until: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        view = requests.get(f"{web}/api/v1/bookings/{booking_id}", headers=headers, timeout=10).json()
        if view["status"] in until or time.monotonic() > deadline:
            return view
        time.sleep(0.2)


def test_without_beat_overdue_holds_give_way_to_a_new_customer(
    organizer, make_event, make_user, auth_header, web, start_worker
):
    event = make_event(organizer, quota=2, hold_seconds=1)
    start_worker()
    body = {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
    }
    first = [auth_header(make_user()) for _ in range(2)]
    booked = [
        requests.post(f"{web}/api/v1/bookings", json=body, headers=h, timeout=10).json()["id"] for h in first
    ]
    # Only a hold can expire; nobody sweeps, so the reader is told so from the hold's end.
    overdue = [poll(web, b, h, {"expired", "rejected"}) for b, h in zip(booked, first, strict=True)]
    assert [(view["status"], view["hold_expires_at"]) for view in overdue] == [("expired", None)] * 2
    late = auth_header(make_user())
    late_id = requests.post(f"{web}/api/v1/bookings", json=body, headers=late, timeout=10).json()["id"]
    view = poll(web, late_id, late, {"held", "expired", "rejected"})
    assert view["status"] != "rejected", view["reason"]  # a hold (which may have run out since)
