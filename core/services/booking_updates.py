"""Following a booking live: the long poll (`wait_for_change`) and the status stream
(`status_updates`), both woken by the drainer's announcements (`core.live_status`) rather than
by polling Redis or PostgreSQL.

A change is one the customer can see: the status, the queue or waitlist position, leaving the
waiting room. A queued request is woken by the push alone; a held or waitlisted one changes by
other hands (payment, expiry, promotion), so the stream reads it again at each keep-alive.

A wake costs no read of its own: the clients woken by one decided batch take their bookings from
one read of the batch made in the process (`bookings.decided_views`, shared through the batch's
`live_status.Announcement`), and so do those that ask again in the seconds after it; a client
whose position moved works the new one out from the batch's highest number. At a sale every
batch wakes hundreds of clients at once, and each reading its booking for itself made the last
of them wait seconds, and exhausted the database pool (docs/architecture.md, "Status is pushed").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from core import live_status
from core.booking_queue import booking_queue, place_in_queue
from core.db import Database
from core.services.bookings import decided_views, read_booking
from core.statuses import FINAL_BOOKING_STATUSES, BookingStatus

MAX_WAIT_SECONDS = 60
_SEEN = ("status", "queue_position", "waitlist_position", "waiting_room")


def _visible(view: dict) -> tuple:
    return tuple(view.get(name) for name in _SEEN)


def _watch(view: dict, booking_id: uuid.UUID) -> live_status.Watch:
    return live_status.hub().watch(view["event_id"], booking_id)


def _decided(
    db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID, batch: live_status.Announcement
) -> dict:
    """The booking `batch` decided, from the batch's one read in this process."""
    views = batch.shared("views", lambda: decided_views(db, [uuid.UUID(b) for b in batch.ids]))
    customer_id, view = views.get(booking_id, (None, None))
    # Someone else's (an organizer following it) is read as they may see it.
    return view if customer_id == actor_id else read_booking(db, actor_id, booking_id)


def _read(db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID) -> dict:
    """The booking, from its batch's read if it was decided a moment ago."""
    batch = live_status.hub().recently_decided(booking_id)
    return (
        read_booking(db, actor_id, booking_id) if batch is None else _decided(db, actor_id, booking_id, batch)
    )


def _after(db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID, view: dict, news: list) -> dict:
    """The booking after what woke its watch: from the announcements when they tell it all,
    else read again."""
    if not news or None in news:
        return read_booking(db, actor_id, booking_id)
    decided = next((a for a in news if str(booking_id) in a.ids), None)
    if decided is not None:
        return _decided(db, actor_id, booking_id, decided)
    if view.get("queue_seq") is None:
        return read_booking(db, actor_id, booking_id)
    moved = news[-1]
    rate = moved.shared("rate", lambda: booking_queue().decision_rate(moved.event_id))
    position, estimated_wait = place_in_queue(view["queue_seq"], moved.highest_decided, rate)
    return {**view, "queue_position": position, "estimated_wait_seconds": estimated_wait}


def wait_for_change(db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID, wait: float) -> dict:
    """The booking as soon as it differs from now, or after `wait` seconds as it is."""
    first = _read(db, actor_id, booking_id)
    if wait <= 0 or first["status"] in FINAL_BOOKING_STATUSES:
        return first
    deadline = time.monotonic() + min(wait, MAX_WAIT_SECONDS)
    with _watch(first, booking_id) as watch:
        # Read after the watch is registered: a decision just before it is not missed.
        view = _read(db, actor_id, booking_id)
        while True:
            remaining = deadline - time.monotonic()
            if _visible(view) != _visible(first) or remaining <= 0:
                return view
            watch.follow(view.get("queue_seq"), view.get("queue_position"))
            watch.wait(remaining)
            view = _after(db, actor_id, booking_id, view, watch.news())


def status_updates(
    db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID, keepalive: float
) -> Iterator[dict | None]:
    """The booking now, then at each change until it is final; None every `keepalive` seconds
    of nothing. The first read happens here, so an unknown booking raises before anything is sent."""
    first = _read(db, actor_id, booking_id)
    return _updates(db, actor_id, booking_id, first, keepalive)


def _updates(db: Database, actor_id, booking_id, first: dict, keepalive: float) -> Iterator[dict | None]:
    yield first
    if first["status"] in FINAL_BOOKING_STATUSES:
        return
    shown = _visible(first)
    with _watch(first, booking_id) as watch:
        view = _read(db, actor_id, booking_id)
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
            view = _after(db, actor_id, booking_id, view, watch.news())
