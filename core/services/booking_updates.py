"""Following a booking live: the long poll (`wait_for_change`) and the status stream
(`status_updates`), both woken by the drainer's announcements (`core.live_status`) rather than
by polling Redis or PostgreSQL.

A change is one the customer can see: the status, the queue or waitlist position, leaving the
waiting room. A queued request is woken by the push alone; a held or waitlisted one changes by
other hands (payment, expiry, promotion), so the stream reads it again at each keep-alive.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from core import live_status
from core.db import Database
from core.services.bookings import read_booking
from core.statuses import FINAL_BOOKING_STATUSES, BookingStatus

MAX_WAIT_SECONDS = 60
_SEEN = ("status", "queue_position", "waitlist_position", "waiting_room")


def _visible(view: dict) -> tuple:
    return tuple(view.get(name) for name in _SEEN)


def _watch(view: dict, booking_id: uuid.UUID) -> live_status.Watch:
    return live_status.hub().watch(view["event_id"], booking_id)


def wait_for_change(db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID, wait: float) -> dict:
    """The booking as soon as it differs from now, or after `wait` seconds as it is."""
    first = read_booking(db, actor_id, booking_id)
    if wait <= 0 or first["status"] in FINAL_BOOKING_STATUSES:
        return first
    deadline = time.monotonic() + min(wait, MAX_WAIT_SECONDS)
    with _watch(first, booking_id) as watch:
        while True:
            # Read after the watch is registered: a decision just before it is not missed.
            view = read_booking(db, actor_id, booking_id)
            remaining = deadline - time.monotonic()
            if _visible(view) != _visible(first) or remaining <= 0:
                return view
            watch.follow(view.get("queue_seq"), view.get("queue_position"))
            watch.wait(remaining)


def status_updates(
    db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID, keepalive: float
) -> Iterator[dict | None]:
    """The booking now, then at each change until it is final; None every `keepalive` seconds
    of nothing. The first read happens here, so an unknown booking raises before anything is sent."""
    first = read_booking(db, actor_id, booking_id)
    return _updates(db, actor_id, booking_id, first, keepalive)


def _updates(db: Database, actor_id, booking_id, first: dict, keepalive: float) -> Iterator[dict | None]:
    yield first
    if first["status"] in FINAL_BOOKING_STATUSES:
        return
    shown = _visible(first)
    with _watch(first, booking_id) as watch:
        view = read_booking(db, actor_id, booking_id)
        while True:
            if _visible(view) != shown:
                shown = _visible(view)
                yield view
                if view["status"] in FINAL_BOOKING_STATUSES:
                    return
            watch.follow(view.get("queue_seq"), view.get("queue_position"))
            while not watch.wait(keepalive):
                yield None
                if view["status"] != BookingStatus.QUEUED:
                    break
            view = read_booking(db, actor_id, booking_id)
