"""A refund's life cycle: the one place where a refund's status changes.

A refund row is born `pending` (`queue_refund`), in the transaction of the change that calls for
it; the task that asks the provider settles it (`core.services.refunds`):

    pending → succeeded      the provider gave the money back (`succeed`)
    pending → failed         the provider refused it (`fail`)

Both ends are final: a refund the provider refused is not asked for again under its key, and
what it did not give back is owed still (the next cancellation of the booking queues it anew).
Any other edge is refused with `Conflict(name="invalid_transition")`.
"""

from __future__ import annotations

from core.models import Payment, Refund
from core.state_machines import check_edge
from core.statuses import RefundStatus

PENDING, SUCCEEDED, FAILED = RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED

TRANSITIONS: dict[RefundStatus, dict[RefundStatus, str]] = {
    PENDING: {SUCCEEDED: "succeed", FAILED: "fail"},
    SUCCEEDED: {},
    FAILED: {},
}


def transition(refund: Refund, target: RefundStatus) -> None:
    """Move the refund to `target`, or refuse before anything is written."""
    check_edge(TRANSITIONS, "refund", refund.status, target)
    refund.status = target


def queue_refund(payment: Payment, amount: int, reason: str, idempotency_key: str) -> Refund:
    """A new `pending` refund of `amount` of the payment, for its booking."""
    return Refund(
        payment_id=payment.id, booking_id=payment.booking_id, amount=amount, currency=payment.currency,
        reason=reason, status=PENDING, idempotency_key=idempotency_key,
    )  # fmt: skip


def succeed(refund: Refund) -> None:
    transition(refund, SUCCEEDED)
    refund.last_error = None


def fail(refund: Refund, error: str) -> None:
    transition(refund, FAILED)
    refund.last_error = error
