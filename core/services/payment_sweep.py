"""Beat's repair job for payments: work whose job was lost is found from the database alone.

Every payment step is sent as a job after the commit that calls for it; a crash between the two
loses the job but not the need. The sweep finds each kind of such work by what the tables say
and sends its job again, once the caller (beat's task) commits its unit of work; the jobs
themselves make a repeat harmless.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core import runtime
from core.db import UnitOfWork
from core.jobs import Job
from core.models import Booking, Payment, WebhookEvent, utcnow
from core.services import event_cancellation, refunds
from core.statuses import BookingStatus, PaymentStatus

# A held booking whose checkout job was lost is given one by the sweep after this long.
LOST_JOB_AFTER = dt.timedelta(minutes=1)
# At most this many bookings (and refunds) are found per kind and run; the next run finds the rest.
SWEEP_BATCH = 1000


def sweep_payments(uow: UnitOfWork, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat's repair job: redo payment work whose job was lost between a commit and its dispatch.

    Held bookings without a checkout, pending refunds, stored but unprocessed provider events,
    and cancelled events with bookings still open are each found from the database alone; their
    jobs are sent when the caller commits.
    """
    now = now or utcnow()
    before = now - LOST_JOB_AFTER
    unprepared = _held_without_checkout(uow, now, before)
    refund_ids = refunds.stale_refund_ids(uow, now, SWEEP_BATCH)
    event_ids = uow.session.scalars(
        select(WebhookEvent.id).where(WebhookEvent.processed_at.is_(None), WebhookEvent.received_at < before)
    ).all()
    cancelled = event_cancellation.unsettled_cancelled_events(uow)
    uow.after_commit(lambda: _send_again(unprepared, refund_ids, event_ids, cancelled))
    return {"checkouts": len(unprepared), "refunds": len(refund_ids), "events": len(event_ids),
            "cancelled_events": len(cancelled)}  # fmt: skip


def _send_again(
    unprepared: list[str], refund_ids: list[str], event_ids: list[str], cancelled: list[str]
) -> None:
    if unprepared:
        runtime.dispatch(Job.PREPARE_CHECKOUTS, booking_ids=unprepared)
    if refund_ids:
        runtime.dispatch(Job.ISSUE_REFUNDS, refund_ids=refund_ids)
    for event_id in event_ids:
        runtime.dispatch(Job.PROCESS_WEBHOOK_EVENT, event_id=event_id)
    for event_id in cancelled:
        runtime.dispatch(Job.SETTLE_CANCELLED_EVENT, event_id=event_id)


def _held_without_checkout(uow: UnitOfWork, now: dt.datetime, before: dt.datetime) -> list[str]:
    has_checkout = (
        select(Payment.id)
        .where(
            Payment.booking_id == Booking.id,
            Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.PAID)),
            Payment.checkout_session_id.is_not(None),
        )  # fmt: skip
        .exists()
    )
    rows = uow.session.scalars(
        select(Booking.id)
        .where(
            Booking.status == BookingStatus.HELD,
            Booking.hold_expires_at > now,
            Booking.decided_at < before,
            ~has_checkout,
        )
        .limit(SWEEP_BATCH)
    )
    return [str(booking_id) for booking_id in rows]
