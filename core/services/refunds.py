"""Giving money back: refunds queued with the change that calls for them, issued by a task.

A refund row is written in the same transaction as the booking change that calls for it, with
an idempotency key derived from the payment (`refund:<payment id>`). The unique key means a
payment is refunded at most once in our books; the provider, given the same key on every
attempt, moves the money at most once. The task calls the provider outside any transaction and
records every attempt, its error, and the provider's answer.

Cancelling an event settles its bookings in chunks, each chunk one transaction under the
event's inventory lock. What is left to do is simply the bookings still open, so a run that is
interrupted anywhere is resumed by running it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from core import metrics, runtime
from core.db import UnitOfWork
from core.errors import Conflict
from core.inventory import lock_inventory
from core.lifecycle import cancel
from core.models import Booking, Event, Payment, Refund, User, utcnow
from core.payments import payment_provider
from core.payments.provider import PaymentProviderError, RefundResult, for_each_retrying
from core.services import follow_ups, tickets
from core.services.permissions import is_organizer_of
from core.statuses import (
    OPEN_BOOKING_STATUSES,
    BookingStatus,
    EventStatus,
    PaymentStatus,
    RefundReason,
    RefundStatus,
)

log = logging.getLogger(__name__)

SETTLE_CHUNK = 200
# Longer than the refund task's longest back-off, so the sweep never races a scheduled retry.
STALE_AFTER = dt.timedelta(minutes=15)


# --- rules ------------------------------------------------------------------------------------


def reason_for_cancellation(actor: User, booking: Booking, event: Event, now: dt.datetime) -> RefundReason:
    """Why a confirmed booking is cancelled and refunded, if `actor` may do it now.

    The event's organizers (and admins) may refund any booking at any time; the customer only
    before the event's `refund_until`. A free booking has nothing to refund and can always be
    given back.
    """
    if is_organizer_of(actor, event):
        return RefundReason.ORGANIZER_REFUNDED
    if booking.total == 0:
        return RefundReason.CUSTOMER_CANCELLED
    if event.refund_until is None:
        raise Conflict("Tickets for this event cannot be refunded.", name="refund_window_closed")
    if now >= event.refund_until:
        raise Conflict(
            "The refund period for this event has ended.",
            name="refund_window_closed",
            details={"refund_until": event.refund_until.isoformat()},
        )
    return RefundReason.CUSTOMER_CANCELLED


def reason_for_unusable_payment(booking: Booking) -> RefundReason:
    """Why a payment that cannot buy its booking's tickets is given back."""
    if booking.status == BookingStatus.CONFIRMED:
        return RefundReason.DUPLICATE_PAYMENT
    if booking.status == BookingStatus.EXPIRED:
        return RefundReason.PAID_AFTER_HOLD_EXPIRED
    if booking.reason in tuple(RefundReason):
        return RefundReason(booking.reason)
    return RefundReason.CUSTOMER_CANCELLED


def provider_reason(reason: str):
    return "duplicate" if reason == RefundReason.DUPLICATE_PAYMENT else "requested_by_customer"


def email_kind(reason: str) -> str:
    return "event_cancelled" if reason == RefundReason.EVENT_CANCELLED else "booking_refunded"


# --- queueing ---------------------------------------------------------------------------------


def queue_refunds(uow: UnitOfWork, payments: Iterable[Payment], reason: str) -> list[Refund]:
    """Queue the full refund of each paid payment (one that already has one is skipped); the
    task that issues them is sent once the transaction commits."""
    queued = []
    for payment in payments:
        key = f"refund:{payment.id}"
        if uow.session.scalar(select(Refund.id).where(Refund.idempotency_key == key)) is not None:
            continue
        # What partial cancellations already gave back is not given twice.
        amount = payment.amount - _partly_refunded(uow, payment)
        if amount <= 0:
            continue
        refund = Refund(
            payment_id=payment.id, booking_id=payment.booking_id, amount=amount,
            currency=payment.currency, reason=reason, status=RefundStatus.PENDING, idempotency_key=key,
        )  # fmt: skip
        uow.session.add(refund)
        queued.append(refund)
    uow.session.flush()
    follow_ups.refunds_queued(uow, queued)
    return queued


def _partly_refunded(uow: UnitOfWork, payment: Payment) -> int:
    return uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status != RefundStatus.FAILED
        )
    )


def queue_partial_refund(
    uow: UnitOfWork, booking: Booking, amount: int, reason: str, part: str
) -> list[Refund]:
    """Refund `amount` of the booking's payment for a part given back (`part` names it, once)."""
    payment = uow.session.scalar(
        select(Payment).where(Payment.booking_id == booking.id, Payment.status == PaymentStatus.PAID)
    )
    if payment is None or amount <= 0:
        return []
    refund = Refund(
        payment_id=payment.id, booking_id=booking.id, amount=amount, currency=payment.currency,
        reason=reason, status=RefundStatus.PENDING, idempotency_key=f"refund:{payment.id}:{part}",
    )  # fmt: skip
    uow.session.add(refund)
    uow.session.flush()
    follow_ups.refunds_queued(uow, [refund])
    return [refund]


def queue_booking_refunds(uow: UnitOfWork, bookings: Iterable[Booking], reason: str) -> list[Refund]:
    paid = uow.session.scalars(
        select(Payment).where(
            Payment.booking_id.in_([b.id for b in bookings]), Payment.status == PaymentStatus.PAID
        )
    ).all()
    return queue_refunds(uow, paid, reason)


# --- issuing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RefundCall:
    provider: str
    payment_intent_id: str
    amount: int
    idempotency_key: str
    reason: str


def issue_refunds(refund_ids: list[str]) -> list[str]:
    """Ask the provider for each pending refund. Returns the ids settled now; raises
    ProviderCallsFailed with the ids worth retrying (a refused refund is marked failed)."""

    def issue_refund(refund_id: str) -> str | None:
        if not _issue_refund(uuid.UUID(refund_id)):
            return None
        metrics.count_payment("refunded")
        return refund_id

    issued = for_each_retrying([str(refund_id) for refund_id in refund_ids], issue_refund)
    return [refund_id for refund_id in issued if refund_id is not None]


def _issue_refund(refund_id: uuid.UUID) -> bool:
    with runtime.database().unit_of_work() as uow:
        refund = uow.session.get(Refund, refund_id, with_for_update=True)
        if refund is None or refund.status != RefundStatus.PENDING:
            return False
        payment = uow.session.get(Payment, refund.payment_id)
        # Counted before the call, so a crash during it still shows as an attempt.
        refund.attempts += 1
        call = _RefundCall(payment.provider, payment.payment_intent_id, refund.amount,
                           refund.idempotency_key, refund.reason)  # fmt: skip
        uow.commit()
    try:
        result = payment_provider(call.provider).refund(
            call.payment_intent_id, call.amount, call.idempotency_key, provider_reason(call.reason)
        )
    except PaymentProviderError as error:
        _record_refund_error(refund_id, error)
        raise
    return _record_refund_result(refund_id, result)


def _record_refund_error(refund_id: uuid.UUID, error: PaymentProviderError) -> None:
    with runtime.database().unit_of_work() as uow:
        refund = uow.session.get(Refund, refund_id, with_for_update=True)
        refund.last_error = error.message
        if not error.retryable:
            refund.status = RefundStatus.FAILED
            log.error("refund %s refused by the provider: %s", refund_id, error.message)
        uow.commit()


def _record_refund_result(refund_id: uuid.UUID, result: RefundResult) -> bool:
    with runtime.database().unit_of_work() as uow:
        refund = uow.session.get(Refund, refund_id, with_for_update=True)
        refund.provider_refund_id, refund.last_error = result.refund_id, None
        if refund.status == RefundStatus.PENDING:
            refund.status = result.status
            if refund.status == RefundStatus.SUCCEEDED:
                _refund_succeeded(uow, refund)
        uow.commit()
        return refund.status == RefundStatus.SUCCEEDED


def _refund_succeeded(uow: UnitOfWork, refund: Refund) -> None:
    payment = uow.session.get(Payment, refund.payment_id, with_for_update=True)
    payment.status = PaymentStatus.REFUNDED
    follow_ups.customers_told(uow, [refund.booking_id], email_kind(refund.reason))


def record_provider_refund(charge: dict) -> str:
    """`charge.refunded`: once the provider says a payment is refunded in full, so do we, and
    any refund of ours still waiting on the provider has succeeded."""
    amount_refunded = charge.get("amount_refunded")
    with runtime.database().unit_of_work() as uow:
        payment = uow.session.scalar(
            select(Payment).where(Payment.payment_intent_id == charge["payment_intent"]).with_for_update()
        )
        if payment is None:
            return "unknown_payment"
        if not isinstance(amount_refunded, int) or amount_refunded < payment.amount:
            return "partly_refunded"
        waiting = uow.session.scalars(
            select(Refund)
            .where(Refund.payment_id == payment.id, Refund.status == RefundStatus.PENDING)
            .with_for_update()
        ).all()
        for refund in waiting:
            refund.status = RefundStatus.SUCCEEDED
            _refund_succeeded(uow, refund)
        payment.status = PaymentStatus.REFUNDED
        uow.commit()
    metrics.count_payment("refunded", len(waiting))
    return "refunded"


# --- cancelled events -------------------------------------------------------------------------


@dataclass
class SettleReport:
    settled: int = 0
    refunds: int = 0
    done: bool = False


def settle_cancelled_event(
    event_id: uuid.UUID | str, chunk: int = SETTLE_CHUNK, max_chunks: int | None = None
) -> SettleReport:
    """End every open booking of a cancelled event: holds released, waitlist places dropped,
    confirmed bookings cancelled and their payments refunded, every customer told.

    At most `max_chunks` chunks per call (`done` says whether anything is left), so one run
    never keeps a worker for long; running it again, or twice at once, continues where it
    stopped, and each payment is refunded once.
    """
    event_id = uuid.UUID(str(event_id))
    report = SettleReport()
    chunks = 0
    while max_chunks is None or chunks < max_chunks:
        settled, refunds = _settle_chunk(event_id, chunk)
        report.settled += settled
        report.refunds += refunds
        chunks += 1
        if settled < chunk:
            report.done = True
            break
    return report


def _settle_chunk(event_id: uuid.UUID, chunk: int) -> tuple[int, int]:
    with runtime.database().unit_of_work() as uow:
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
        now = utcnow()
        held = [booking for booking in bookings if booking.status == BookingStatus.HELD]
        for booking in bookings:
            cancel(booking, inventory, now, RefundReason.EVENT_CANCELLED)
        tickets.cancel_tickets(uow, [booking.id for booking in bookings])
        queued = queue_booking_refunds(uow, bookings, RefundReason.EVENT_CANCELLED)
        refunded = {refund.booking_id for refund in queued}
        follow_ups.holds_released(uow, held)
        # Customers with money to get back are told once it is back (see `_refund_succeeded`).
        follow_ups.customers_told(
            uow, [b for b in bookings if b.id not in refunded], email_kind(RefundReason.EVENT_CANCELLED)
        )
        uow.commit()
    return len(bookings), len(queued)


# --- reading ----------------------------------------------------------------------------------


def refund_totals(uow: UnitOfWork, booking_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, str, str]]:
    """(amount, currency, reason) given back or on its way back, per booking, for the emails."""
    rows = uow.session.execute(
        select(Refund.booking_id, func.sum(Refund.amount), func.min(Refund.currency), func.min(Refund.reason))
        .where(Refund.booking_id.in_(booking_ids), Refund.status != RefundStatus.FAILED)
        .group_by(Refund.booking_id)
    )
    return {booking_id: (int(amount), currency, reason) for booking_id, amount, currency, reason in rows}


def event_refunds_query(event_id: uuid.UUID, status: str | None = None):
    query = (
        select(Refund)
        .join(Booking, Booking.id == Refund.booking_id)
        .where(Booking.event_id == event_id)
        .order_by(Refund.created_at.desc(), Refund.id)
    )
    return query.where(Refund.status == status) if status else query


def stale_refund_ids(uow: UnitOfWork, now: dt.datetime, limit: int) -> list[str]:
    """Up to `limit` pending refunds nobody has touched for a while: their job was lost, or ran
    out of retries."""
    rows = uow.session.scalars(
        select(Refund.id)
        .where(Refund.status == RefundStatus.PENDING, Refund.updated_at < now - STALE_AFTER)
        .limit(limit)
    )
    return [str(refund_id) for refund_id in rows]


def unsettled_cancelled_events(uow: UnitOfWork) -> list[str]:
    rows = uow.session.scalars(
        select(Booking.event_id)
        .join(Event, Event.id == Booking.event_id)
        .where(Event.status == EventStatus.CANCELLED, Booking.status.in_(OPEN_BOOKING_STATUSES))
        .distinct()
    )
    return [str(event_id) for event_id in rows]
