"""What follows an event's cancellation: every open booking ended and every payment refunded.

The event's own change (`core.services.events.cancel_event`) stops sales at once and sends the
job that runs `settle_cancelled_event`: holds released, waitlist places dropped, confirmed
bookings cancelled and what is left of their payments refunded (`core.services.cancellations`),
every customer told. It works in chunks, each chunk one transaction under the event's inventory
lock. What is left to do is simply the bookings still open, so a run that is interrupted
anywhere is resumed by running it again, and each payment is refunded once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from core.db import Database, UnitOfWork
from core.inventory import lock_inventory
from core.models import Booking, Event, utcnow
from core.services import cancellations, follow_ups
from core.services.refunds import email_kind
from core.statuses import OPEN_BOOKING_STATUSES, EventStatus, RefundReason

SETTLE_CHUNK = 200


@dataclass
class SettleReport:
    settled: int = 0
    refunds: int = 0
    done: bool = False


def settle_cancelled_event(
    db: Database, event_id: uuid.UUID | str, chunk: int = SETTLE_CHUNK, max_chunks: int | None = None
) -> SettleReport:
    """End every open booking of a cancelled event, `chunk` bookings per transaction on `db`
    (each committed before the next begins).

    At most `max_chunks` chunks per call (`done` says whether anything is left), so one run
    never keeps a worker for long; running it again, or twice at once, continues where it
    stopped.
    """
    event_id = uuid.UUID(str(event_id))
    report = SettleReport()
    chunks = 0
    while max_chunks is None or chunks < max_chunks:
        settled, refunds = _settle_chunk(db, event_id, chunk)
        report.settled += settled
        report.refunds += refunds
        chunks += 1
        if settled < chunk:
            report.done = True
            break
    return report


def _settle_chunk(db: Database, event_id: uuid.UUID, chunk: int) -> tuple[int, int]:
    with db.unit_of_work() as uow:
        inventory = lock_inventory(uow, event_id)
        if inventory.event.status != EventStatus.CANCELLED:
            return 0, 0
        bookings = uow.session.scalars(
            select(Booking)
            .where(Booking.event_id == event_id, Booking.status.in_(OPEN_BOOKING_STATUSES))
            .order_by(Booking.queue_seq)
            .limit(chunk)
            .with_for_update()
        ).all()
        queued = cancellations.cancel_bookings(
            uow, inventory, bookings, utcnow(), RefundReason.EVENT_CANCELLED
        )
        refunded = {refund.booking_id for refund in queued}
        # Customers with money to get back are told once it is back (see `refunds._refund_succeeded`).
        follow_ups.customers_told(
            uow, [b for b in bookings if b.id not in refunded], email_kind(RefundReason.EVENT_CANCELLED)
        )
        uow.commit()
    return len(bookings), len(queued)


def unsettled_cancelled_events(uow: UnitOfWork) -> list[str]:
    """Cancelled events with bookings still open (their settling job was lost, or is running)."""
    rows = uow.session.scalars(
        select(Booking.event_id)
        .join(Event, Event.id == Booking.event_id)
        .where(Event.status == EventStatus.CANCELLED, Booking.status.in_(OPEN_BOOKING_STATUSES))
        .distinct()
    )
    return [str(event_id) for event_id in rows]
