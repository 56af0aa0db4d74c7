"""A payment's life cycle: the one place where a payment's status changes.

`TRANSITIONS` is the diagram as data; each edge is one function here that writes the status
and the fields that go with it together, in the caller's transaction (a payment row is born
`pending`, `open_payment`):

    pending → paid | failed | expired           paid, an asynchronous method failed, closed
                                                unpaid (`record_paid`, `record_failed`,
                                                `record_expired`, `expire_unopened`)
    failed | expired → paid                     money the provider says arrived after all is
                                                recorded, never ignored (`record_paid`)
    expired → pending                           a session made after its row was closed
                                                unopened: reopened, so closing it at the
                                                provider settles it (`reopen`)
    paid → partially_refunded | refunded        refunds succeeded (`record_refunded`)
    partially_refunded → refunded               the refunds now add up to the payment

A payment is `refunded` exactly when the refunds that succeeded add up to it (or the provider
says the charge is refunded in full); until then, with some given back, `partially_refunded`,
and every later cancellation refunds what is left of it (`core.services.refunds`). Any other
edge is refused with `Conflict(name="invalid_transition")`.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update

from core.db import UnitOfWork
from core.models import Payment
from core.payments.provider import Checkout
from core.state_machines import check_edge
from core.statuses import PaymentStatus

PENDING, PAID, FAILED = PaymentStatus.PENDING, PaymentStatus.PAID, PaymentStatus.FAILED
EXPIRED, REFUNDED = PaymentStatus.EXPIRED, PaymentStatus.REFUNDED
PARTIALLY_REFUNDED = PaymentStatus.PARTIALLY_REFUNDED

TRANSITIONS: dict[PaymentStatus, dict[PaymentStatus, str]] = {
    PENDING: {PAID: "record_paid", FAILED: "record_failed", EXPIRED: "record_expired"},
    FAILED: {PAID: "record_paid"},
    EXPIRED: {PAID: "record_paid", PENDING: "reopen"},
    PAID: {PARTIALLY_REFUNDED: "record_refunded", REFUNDED: "record_refunded"},
    PARTIALLY_REFUNDED: {REFUNDED: "record_refunded"},
    REFUNDED: {},
}


def transition(payment: Payment, target: PaymentStatus) -> None:
    """Move the payment to `target`, or refuse before anything is written."""
    check_edge(TRANSITIONS, "payment", payment.status, target)
    payment.status = target


def open_payment(**fields) -> Payment:
    """A new payment row, `pending` until its checkout is paid, fails or closes."""
    return Payment(status=PENDING, **fields)


def record_paid(payment: Payment, payment_intent_id: str | None) -> None:
    transition(payment, PAID)
    payment.payment_intent_id = payment_intent_id


def record_failed(payment: Payment) -> None:
    transition(payment, FAILED)


def record_expired(payment: Payment) -> None:
    transition(payment, EXPIRED)


def reopen(payment: Payment, checkout: Checkout) -> None:
    """`expired` → `pending` with the session the provider made after all."""
    transition(payment, PENDING)
    store_checkout(payment, checkout)


def store_checkout(payment: Payment, checkout: Checkout) -> None:
    """The provider's session for this payment (no change of status)."""
    payment.checkout_session_id = checkout.session_id
    payment.checkout_url = checkout.url
    payment.checkout_expires_at = checkout.expires_at


def record_refunded(payment: Payment, refunded: int) -> None:
    """`refunded` once the money given back (`refunded`, what succeeded) adds up to the payment,
    `partially_refunded` before; staying `partially_refunded` is not a transition."""
    target = REFUNDED if refunded >= payment.amount else PARTIALLY_REFUNDED
    if payment.status != target:
        transition(payment, target)


def expire_unopened(uow: UnitOfWork, payment_id: uuid.UUID, now: dt.datetime) -> None:
    """Bulk form of `pending` → `expired` for a payment whose session was never opened: one
    UPDATE guarded by the status (and the missing session), so a session stored meanwhile wins."""
    uow.session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status == PENDING, Payment.checkout_session_id.is_(None))
        .values(status=EXPIRED, updated_at=now)
    )
