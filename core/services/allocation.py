"""The allocation engine: one drainer per event decides queued requests in order, in batches.

A drain holds the event's Redis lock, reads a batch from the head of the queue, decides it in
one database transaction (inventory locked, bookings inserted in bulk, counters updated),
commits, and only then removes the batch from the queue. A crash anywhere replays the batch:
requests already in the database are recognised by their booking id and not decided again.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

from redis.exceptions import LockError
from sqlalchemy import func, select

from core import allocation_stats, runtime
from core.booking_queue import lock_key, queue_for
from core.booking_rules import BookingRequest, CustomerState, decide
from core.bulk_insert import insert_rows
from core.db import UnitOfWork
from core.inventory import lock_inventory
from core.jobs import Job
from core.lifecycle import decided_rows
from core.models import Booking, BookingLine, utcnow
from core.services import follow_ups
from core.services.waitlist import promote_waitlist
from core.statuses import COUNTED_BOOKING_STATUSES, PENDING_BOOKING_STATUSES, BookingStatus

# A drainer that dies keeps the event's queue waiting at most this long before another takes over.
LOCK_SECONDS = 5


@dataclass
class DrainReport:
    decided: int = 0
    batches: int = 0
    busy: bool = False


def drain_event_queue(
    event_id: uuid.UUID | str, batch_size: int | None = None, lock_wait: float = 1.0
) -> DrainReport:
    """Decide everything queued for the event, batch after batch, while holding its lock."""
    event_id = uuid.UUID(str(event_id))
    batch_size = batch_size or runtime.settings().allocation_batch_size
    queue = queue_for(runtime.redis_client())
    lock = queue.redis.lock(lock_key(event_id), timeout=LOCK_SECONDS, blocking_timeout=lock_wait)
    if not lock.acquire():
        return DrainReport(busy=True)
    report = DrainReport()
    try:
        while True:
            # Cleared before each read: a request queued after this point schedules a new drain.
            queue.clear_pending(event_id)
            batch = queue.head(event_id, batch_size)
            if not batch:
                break
            started = time.perf_counter()
            decide_batch(event_id, batch)
            queue.remove_decided(event_id, batch)
            elapsed = max(time.perf_counter() - started, 1e-6)
            queue.record_rate(event_id, len(batch) / elapsed)
            allocation_stats.record_batch(queue.redis, len(batch), elapsed)
            report.decided += len(batch)
            report.batches += 1
            lock.reacquire()  # raises if the lock was lost: another drainer has taken over
    except LockError:
        return report
    finally:
        with contextlib.suppress(LockError):
            lock.release()
    queue.forget_if_empty(event_id)
    return report


def decide_batch(event_id: uuid.UUID, batch: list[BookingRequest]) -> None:
    """Decide a batch in one transaction; requests already decided (a replay) are skipped."""
    with runtime.database().unit_of_work() as uow:
        decide_requests(uow, event_id, batch)
        uow.commit()


def decide_requests(uow: UnitOfWork, event_id: uuid.UUID, batch: list[BookingRequest]) -> list[dict]:
    """Decide requests inside the caller's transaction (the event's inventory locked here);
    returns the booking rows written. The drainer's batches and organizers' comps come here."""
    inventory = lock_inventory(uow, event_id)
    now = utcnow()
    # Tickets that came back go to the waitlist before any newer request.
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, now))
    seen = set(uow.session.scalars(select(Booking.id).where(Booking.id.in_([r.booking_id for r in batch]))))
    fresh = [request for request in batch if request.booking_id not in seen]
    customers = customer_states(uow, event_id, {request.user_id for request in fresh})
    inventory.lock_vouchers({request.voucher_id for request in fresh if request.voucher_id is not None})
    bookings, lines = [], []
    for request in fresh:
        decision = decide(request, inventory, customers[request.user_id])
        booking, booking_lines = decided_rows(request, decision, inventory, now)
        bookings.append(booking)
        lines.extend(booking_lines)
    connection = uow.session.connection()
    insert_rows(connection, Booking.__table__, bookings)
    insert_rows(connection, BookingLine.__table__, lines)
    follow_ups.bookings_held(uow, [b["id"] for b in bookings if b["status"] == BookingStatus.HELD])
    follow_ups.bookings_confirmed(uow, [b["id"] for b in bookings if b["status"] == BookingStatus.CONFIRMED])
    return bookings


def customer_states(uow: UnitOfWork, event_id: uuid.UUID, user_ids: set[uuid.UUID]) -> dict:
    """What each customer already has at the event, read in one query for the whole batch."""
    states: dict[uuid.UUID, CustomerState] = defaultdict(CustomerState)
    if not user_ids:
        return states
    rows = uow.session.execute(
        select(Booking.user_id, Booking.status, func.sum(BookingLine.quantity))
        .join(BookingLine, BookingLine.booking_id == Booking.id)
        .where(
            Booking.event_id == event_id,
            Booking.user_id.in_(user_ids),
            Booking.status.in_(COUNTED_BOOKING_STATUSES),
        )
        .group_by(Booking.user_id, Booking.status)
    )
    for user_id, status, quantity in rows:
        state = states[user_id]
        state.tickets += int(quantity)
        state.has_pending = state.has_pending or status in PENDING_BOOKING_STATUSES
    return states


def sweep_allocation_queues() -> list[str]:
    """Schedule a drain for every queue that has requests and nobody draining it.

    Repairs lost wake-ups: an API process that died between queueing a request and scheduling
    its drain, or a drainer killed while holding the lock (once the lock has run out).
    """
    queue = queue_for(runtime.redis_client())
    rescheduled = []
    for event_id in queue.active_events():
        if queue.forget_if_empty(event_id) and not queue.is_draining(event_id):
            runtime.dispatch(Job.DRAIN_EVENT, event_id=event_id)
            rescheduled.append(event_id)
    return rescheduled
