"""Giving money back: refunds queued with the change that calls for them, issued by a task.

A refund row is written (`core.refund_lifecycle`) in the same transaction as the change that
calls for it, and a cancellation refunds what is left of the payment: its amount less the
refunds not refused (pending or succeeded). The payment row is locked while that is worked out,
so the refunds of a payment never exceed it and, once its booking is fully cancelled, equal it
(the money invariant, docs/payments.md). A payment is `refunded` once the refunds that
succeeded add up to it, `partially_refunded` before (`core.payment_lifecycle`).

Each refund has its own idempotency key, derived from the payment and what the refund is for:
`refund:<payment id>` for what is left of it (`...:again-<n>` after `n` refused refunds of
the payment), `refund:<payment id>:<ticket ids>` for tickets given back. The provider, given
the same key on every attempt, moves the money at most once. The task calls the provider
outside any transaction and records every attempt, its error, and the provider's answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from core import metrics, payment_lifecycle, refund_lifecycle
from core.db import Database, UnitOfWork
from core.errors import Conflict
from core.models import Booking, Event, Payment, Refund, User
from core.payments import payment_provider
from core.payments.provider import PaymentProviderError, RefundResult, for_each_retrying
from core.services import follow_ups
from core.services.permissions import is_organizer_of
from core.statuses import (
    RECEIVED_PAYMENT_STATUSES,
    REFUNDABLE_PAYMENT_STATUSES,
    BookingStatus,
    RefundReason,
    RefundStatus,
)

log = logging.getLogger(__name__)

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
    """Queue the refund of what is left of each payment (none where nothing is); the task that
    issues them is sent once the transaction commits."""
    queued = []
    for payment in payments:
        payment = _locked(uow, payment.id)
        amount = left_to_refund(uow, payment)
        if amount > 0:
            queued.append(_queue(uow, payment, amount, reason, _rest_key(uow, payment)))
    follow_ups.refunds_queued(uow, queued)
    return queued


def queue_partial_refund(
    uow: UnitOfWork, booking: Booking, amount: int, reason: str, part: str
) -> list[Refund]:
    """Refund `amount` of the booking's payment for a part given back (`part` names it, once),
    never more than is left of the payment."""
    for payment in _refundable_payments(uow, [booking]):
        payment = _locked(uow, payment.id)
        amount = min(amount, left_to_refund(uow, payment))
        if amount <= 0:
            continue
        refund = _queue(uow, payment, amount, reason, f"refund:{payment.id}:{part}")
        follow_ups.refunds_queued(uow, [refund])
        return [refund]
    return []


def queue_booking_refunds(uow: UnitOfWork, bookings: Iterable[Booking], reason: str) -> list[Refund]:
    """Queue the refund of what is left of every payment of the bookings that money reached."""
    return queue_refunds(uow, _refundable_payments(uow, bookings), reason)


def left_to_refund(uow: UnitOfWork, payment: Payment) -> int:
    """The payment's amount less its refunds not refused (pending or succeeded)."""
    given_back = uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status != RefundStatus.FAILED
        )
    )
    return payment.amount - given_back


def _refundable_payments(uow: UnitOfWork, bookings: Iterable[Booking]) -> list[Payment]:
    return list(
        uow.session.scalars(
            select(Payment)
            .where(
                Payment.booking_id.in_([booking.id for booking in bookings]),
                Payment.status.in_(REFUNDABLE_PAYMENT_STATUSES),
            )
            .order_by(Payment.created_at, Payment.id)
        )
    )


def _locked(uow: UnitOfWork, payment_id: uuid.UUID) -> Payment:
    """The payment, its row locked: two cancellations of one payment wait for each other here,
    so they never give back the same rest. (Changes made to it in this unit of work are written
    first, so reading the row afresh keeps them.)"""
    uow.session.flush()
    return uow.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)


def _rest_key(uow: UnitOfWork, payment: Payment) -> str:
    """The key of a refund of what is left: a new one after each refused refund (a provider
    answers a key it refused once with the same refusal)."""
    refused = uow.session.scalar(
        select(func.count()).where(Refund.payment_id == payment.id, Refund.status == RefundStatus.FAILED)
    )
    return f"refund:{payment.id}" if refused == 0 else f"refund:{payment.id}:again-{refused}"


def _queue(uow: UnitOfWork, payment: Payment, amount: int, reason: str, key: str) -> Refund:
    refund = refund_lifecycle.queue_refund(payment, amount, reason, key)
    uow.session.add(refund)
    uow.session.flush()
    return refund


# --- issuing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RefundCall:
    provider: str
    payment_intent_id: str
    amount: int
    idempotency_key: str
    reason: str


def issue_refunds(db: Database, refund_ids: list[str]) -> list[str]:
    """Ask the provider for each pending refund. Returns the ids settled now; raises
    ProviderCallsFailed with the ids worth retrying (a refused refund is marked failed).

    Each refund takes three short transactions of its own on `db`: the attempt is counted and
    committed before the provider is called, and its answer (or error) committed after."""

    def issue_refund(refund_id: str) -> str | None:
        if not _issue_refund(db, uuid.UUID(refund_id)):
            return None
        metrics.count_payment("refunded")
        return refund_id

    issued = for_each_retrying([str(refund_id) for refund_id in refund_ids], issue_refund)
    return [refund_id for refund_id in issued if refund_id is not None]


def _issue_refund(db: Database, refund_id: uuid.UUID) -> bool:
    with db.unit_of_work() as uow:
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
        _record_refund_error(db, refund_id, error)
        raise
    return _record_refund_result(db, refund_id, result)


def _record_refund_error(db: Database, refund_id: uuid.UUID, error: PaymentProviderError) -> None:
    with db.unit_of_work() as uow:
        refund = uow.session.get(Refund, refund_id, with_for_update=True)
        refund.last_error = error.message
        if not error.retryable and refund.status == RefundStatus.PENDING:
            refund_lifecycle.fail(refund, error.message)
            log.error("refund %s refused by the provider: %s", refund_id, error.message)
        uow.commit()


def _record_refund_result(db: Database, refund_id: uuid.UUID, result: RefundResult) -> bool:
    with db.unit_of_work() as uow:
        refund = uow.session.get(Refund, refund_id, with_for_update=True)
        refund.provider_refund_id = result.refund_id
        if refund.status == RefundStatus.PENDING:
            if result.status == RefundStatus.SUCCEEDED:
                refund_lifecycle.succeed(refund)
                _refund_succeeded(uow, refund)
            elif result.status == RefundStatus.FAILED:
                refund_lifecycle.fail(refund, "The provider reports the refund failed.")
            else:
                refund.last_error = None
        uow.commit()
        return refund.status == RefundStatus.SUCCEEDED


def _refund_succeeded(uow: UnitOfWork, refund: Refund) -> None:
    """The payment's status follows the sum of its refunds that succeeded; the customer is told."""
    payment = _locked(uow, refund.payment_id)
    succeeded = uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status == RefundStatus.SUCCEEDED
        )
    )
    payment_lifecycle.record_refunded(payment, succeeded)
    follow_ups.customers_told(uow, [refund.booking_id], email_kind(refund.reason))


def record_provider_refund(uow: UnitOfWork, charge: dict) -> str:
    """`charge.refunded`: once the provider says a payment is refunded in full, so do we, and
    any refund of ours still waiting on the provider has succeeded. In the caller's transaction."""
    amount_refunded = charge.get("amount_refunded")
    payment = uow.session.scalar(
        select(Payment).where(Payment.payment_intent_id == charge["payment_intent"]).with_for_update()
    )
    if payment is None:
        return "unknown_payment"
    if not isinstance(amount_refunded, int) or amount_refunded < payment.amount:
        return "partly_refunded"
    if payment.status not in RECEIVED_PAYMENT_STATUSES:
        log.error("charge.refunded for payment %s, which is %s", payment.id, payment.status)
        return "not_paid"
    waiting = uow.session.scalars(
        select(Refund)
        .where(Refund.payment_id == payment.id, Refund.status == RefundStatus.PENDING)
        .with_for_update()
    ).all()
    for refund in waiting:
        refund_lifecycle.succeed(refund)
        follow_ups.customers_told(uow, [refund.booking_id], email_kind(refund.reason))
    payment_lifecycle.record_refunded(payment, payment.amount)
    uow.after_commit(lambda: metrics.count_payment("refunded", len(waiting)))
    return "refunded"


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
