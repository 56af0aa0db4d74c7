"""Confirming what was paid: a provider session's outcome settles its booking, exactly once.

A paid session confirms a held booking; one paid after the hold ended still buys the tickets if
they are free and on sale, and is refunded in full otherwise. A session counts only for the
amount and currency its payment row asks for: anyone can open a session carrying our booking id,
so one that took another price buys nothing and is refunded. Provider events can be late,
repeated or out of order, so every function here is told a session's current state and acts
on it under the booking's locks, however often it is told.

Every function here does its work in the caller's unit of work, which the caller commits (a
webhook's task, or the job that closes checkouts, each after asking the provider). A payment's
status changes only through `core.payment_lifecycle`, a booking's through `core.lifecycle`.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from core import metrics, payment_lifecycle
from core.booking_rules import sales_closed
from core.db import UnitOfWork
from core.inventory import Inventory, lock_inventory
from core.lifecycle import cancel, confirm, expire, fits
from core.models import Booking, Payment, utcnow
from core.payments.provider import SessionState, SessionStatus
from core.services import follow_ups, refunds
from core.services.waitlist import promote_waitlist
from core.statuses import RECEIVED_PAYMENT_STATUSES, BookingStatus, PaymentStatus, RefundReason

log = logging.getLogger(__name__)

PAID = ("paid", "no_payment_required")


def confirm_payment(uow: UnitOfWork, state: SessionState, provider: str) -> str:
    """Record a paid checkout and settle its booking, exactly once however often it is told.

    A held booking is confirmed (held → sold). A payment that arrives after the hold ended
    still confirms the booking if its tickets are free and on sale; otherwise the booking is
    marked `cancelled` with reason `paid_after_hold_expired` and the payment is refunded in
    full. A payment for a booking that was already paid, or cancelled, is refunded too.
    Returns what happened, for logs and tests.
    """
    if state.payment_status not in PAID:
        return "awaiting_payment"
    locked = _lock_session_payment(uow, state, provider)
    if locked is None:
        log.warning("paid %s session %s matches no payment of ours", provider, state.session_id)
        return "unknown_session"
    payment, booking, inventory = locked
    if payment.status in RECEIVED_PAYMENT_STATUSES:
        return "already_recorded"
    if payment.checkout_session_id != state.session_id or not _same_price(payment, state):
        _refund_unmatched(uow, payment, state)
        outcome = "amount_mismatch"
    else:
        payment_lifecycle.record_paid(payment, state.payment_intent_id)
        outcome = _settle_paid_booking(uow, inventory, booking, payment)
    uow.after_commit(lambda: metrics.count_payment(outcome))
    return outcome


def _settle_paid_booking(uow: UnitOfWork, inventory: Inventory, booking: Booking, payment: Payment) -> str:
    now = utcnow()
    if booking.status == BookingStatus.HELD:
        outcome = BookingStatus.CONFIRMED
    elif (
        booking.status == BookingStatus.EXPIRED
        and not sales_closed(inventory.event, now)
        and fits(inventory, booking)
    ):
        outcome = "confirmed_after_hold_expired"
    else:
        reason = refunds.reason_for_unusable_payment(booking)
        if booking.status == BookingStatus.EXPIRED:
            cancel(booking, inventory, now, reason)
        refunds.queue_refunds(uow, [payment], reason)
        return "refunding"
    confirm(booking, inventory, now)
    follow_ups.bookings_confirmed(uow, [booking])
    return outcome


def _same_price(payment: Payment, state: SessionState) -> bool:
    return state.amount_total == payment.amount and state.currency.upper() == payment.currency.upper()


def _refund_unmatched(uow: UnitOfWork, payment: Payment, state: SessionState) -> None:
    """Money a session took that is not the booking's price buys nothing and is given back in
    full. Anyone can open a session carrying our booking id, for any amount, so a session that
    is not already the payment's own is recorded as a payment of its own: the booking's real
    checkout stays open and can still be paid."""
    log.error(
        "%s session %s took %s %s for booking %s, which costs %s %s: not confirmed, refunding",
        payment.provider, state.session_id, state.amount_total, state.currency, payment.booking_id,
        payment.amount, payment.currency,
    )  # fmt: skip
    if payment.checkout_session_id != state.session_id:
        payment = payment_lifecycle.open_payment(
            booking_id=payment.booking_id,
            provider=payment.provider,
            checkout_session_id=state.session_id,
            idempotency_key=f"unmatched:{state.session_id}",
        )
        uow.session.add(payment)
    payment.amount, payment.currency = state.amount_total, state.currency.upper()
    payment_lifecycle.record_paid(payment, state.payment_intent_id)
    uow.session.flush()
    if payment.amount > 0:
        refunds.queue_refunds(uow, [payment], RefundReason.AMOUNT_MISMATCH)


def _lock_session_payment(
    uow: UnitOfWork, state: SessionState, provider: str
) -> tuple[Payment, Booking, Inventory] | None:
    """Our payment for a provider session, with its event's inventory and its booking locked
    (in the order every path locks them, so they never deadlock)."""
    payment = _payment_for_session(uow, state, provider)
    if payment is None:
        return None
    booking = uow.session.get(Booking, payment.booking_id)
    inventory = lock_inventory(uow, booking.event_id)
    uow.session.refresh(booking, with_for_update=True)
    uow.session.refresh(payment, with_for_update=True)
    # A session made just before a crash may not have been stored: it is stored now, if it asks
    # for the payment's price (one that does not was not made by us).
    if payment.checkout_session_id is None and _same_price(payment, state):
        payment.checkout_session_id = state.session_id
    return payment, booking, inventory


def _payment_for_session(uow: UnitOfWork, state: SessionState, provider: str) -> Payment | None:
    """Found by the session id, or, for a session not stored yet, by the booking id we sent along
    as metadata (the newest payment of that booking still waiting for its session)."""
    payment = uow.session.scalar(select(Payment).where(Payment.checkout_session_id == state.session_id))
    if payment is not None or state.booking_id is None:
        return payment
    try:
        booking_id = uuid.UUID(state.booking_id)
    except ValueError:
        return None
    return uow.session.scalar(
        select(Payment)
        .where(
            Payment.booking_id == booking_id,
            Payment.provider == provider,
            Payment.checkout_session_id.is_(None),
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
    )


def fail_payment(uow: UnitOfWork, state: SessionState, provider: str) -> str:
    """An asynchronous payment (a bank debit) failed. The hold stays: the customer may try again
    with a new checkout before it ends."""
    locked = _lock_session_payment(uow, state, provider)
    if locked is None:
        return "unknown_session"
    payment = locked[0]
    if payment.checkout_session_id != state.session_id:
        return "unknown_session"
    if payment.status != PaymentStatus.PENDING:
        return "already_recorded"
    payment_lifecycle.record_failed(payment)
    uow.after_commit(lambda: metrics.count_payment("failed"))
    return "failed"


def close_checkout(uow: UnitOfWork, state: SessionState, provider: str) -> str:
    """A checkout closed unpaid while its booking was held: the hold ends (tickets back,
    waitlist served first). A booking has one open checkout at a time, so nothing else could
    still be paid for it."""
    locked = _lock_session_payment(uow, state, provider)
    if locked is None:
        return "unknown_session"
    payment, booking, inventory = locked
    if payment.checkout_session_id != state.session_id:
        return "unknown_session"
    if payment.status != PaymentStatus.PENDING:
        return "already_recorded"
    payment_lifecycle.record_expired(payment)
    if booking.status != BookingStatus.HELD:
        return "closed"
    _end_hold(uow, inventory, booking)
    return "hold_released"


def _end_hold(uow: UnitOfWork, inventory: Inventory, booking: Booking) -> None:
    now = utcnow()
    expire(booking, inventory, now)
    follow_ups.holds_expired(uow, [booking.id])
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, now))


def reconcile_checkout(uow: UnitOfWork, state: SessionState, provider: str) -> str:
    """Act on a session's current state, as the provider reports it now."""
    if state.status == SessionStatus.COMPLETE:
        return confirm_payment(uow, state, provider)
    if state.status == SessionStatus.EXPIRED:
        return close_checkout(uow, state, provider)
    return "still_open"
