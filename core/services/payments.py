"""Paying for held bookings: open a checkout, confirm what was paid, close what was not.

Provider calls never happen inside a database transaction. Each step reads what it needs and
ends its transaction, calls the provider, then stores the answer in a new short transaction. A
crash between the call and the store is harmless: every call carries an idempotency key derived
from our own ids, so doing the step again gets the provider's first answer back.

Payment statuses are `core.statuses.PaymentStatus`; a booking's status changes only through
`core.lifecycle`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core import links, runtime
from core.booking_rules import sales_closed
from core.db import UnitOfWork
from core.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable
from core.inventory import Inventory, lock_inventory
from core.jobs import Job
from core.lifecycle import cancel, confirm, expire, fits
from core.models import Booking, Payment, User, WebhookEvent, utcnow
from core.payments import payment_provider
from core.payments.provider import (
    CheckoutLine,
    CheckoutRequest,
    PaymentProviderError,
    ProviderCallsFailed,
    SessionState,
    SessionStatus,
)
from core.payments.stripe_provider import WebhookVerificationError, verify_stripe_webhook
from core.services import follow_ups, refunds
from core.services.permissions import is_organizer_of
from core.services.waitlist import promote_waitlist
from core.statuses import BookingStatus, PaymentStatus

log = logging.getLogger(__name__)

PAID = ("paid", "no_payment_required")
SESSION_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)
# A held booking whose checkout job was lost is given one by the sweep after this long.
LOST_JOB_AFTER = dt.timedelta(minutes=1)


# --- checkouts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CheckoutPlan:
    payment_id: uuid.UUID
    provider: str
    request: CheckoutRequest


def prepare_checkouts(booking_ids: list[str], notify: str | None = None) -> list[str]:
    """Give each held booking an open checkout; the job that follows every new hold.

    With `notify`, the customers of the bookings that got one are then sent that email (the
    waitlist promotion, which must carry the checkout link). Returns the ids that have a checkout.
    """
    ready, again, cause = [], [], None
    for booking_id in booking_ids:
        try:
            payment = ensure_checkout(uuid.UUID(str(booking_id)))
        except PaymentProviderError as error:
            if not error.retryable:
                log.warning("no checkout for booking %s: %s", booking_id, error)
                continue
            again.append(str(booking_id))
            cause = error
            continue
        if payment is not None:
            ready.append(str(booking_id))
    if notify and ready:
        runtime.dispatch(Job.SEND_BOOKING_EMAILS, kind=notify, booking_ids=ready)
    if cause is not None:
        raise ProviderCallsFailed(again, cause)
    return ready


def ensure_checkout(booking_id: uuid.UUID) -> Payment | None:
    """The booking's open checkout, made if it has none; None once the booking is not held."""
    with runtime.database().unit_of_work() as uow:
        plan = _plan_checkout(uow, booking_id)
        uow.commit()
    if not isinstance(plan, _CheckoutPlan):
        return plan
    checkout = payment_provider(plan.provider).create_checkout(plan.request)
    with runtime.database().unit_of_work() as uow:
        payment = uow.session.get(Payment, plan.payment_id, with_for_update=True, populate_existing=True)
        booking = uow.session.get(Booking, payment.booking_id)
        if payment.checkout_session_id is None:
            payment.checkout_session_id = checkout.session_id
            payment.checkout_url = checkout.url
            payment.checkout_expires_at = checkout.expires_at
            # A session exists after all, so it can be paid: closing it below settles that.
            if payment.status == PaymentStatus.EXPIRED:
                payment.status = PaymentStatus.PENDING
        if booking.status != BookingStatus.HELD:
            follow_ups.holds_released(uow, [booking.id])  # the hold ended while the session was made
        uow.commit()
    return payment if booking.status == BookingStatus.HELD else None


def _plan_checkout(uow: UnitOfWork, booking_id: uuid.UUID) -> Payment | _CheckoutPlan | None:
    """Under the booking's row lock: its open checkout, or a new payment row and what to ask for.

    The payment row is stored before the provider is called, so its idempotency key is fixed
    (`checkout:<booking id>:<attempt>`) and a retry, or a concurrent job, asks for the same
    session; the unique key also stops two jobs from making two rows for one attempt.
    """
    booking = uow.session.get(Booking, booking_id, with_for_update=True, populate_existing=True)
    if booking is None or booking.status != BookingStatus.HELD:
        return None
    payment = _open_payment(uow, booking.id)
    if payment is not None and payment.checkout_session_id is not None:
        return payment
    if payment is None:
        attempt = uow.session.scalar(select(func.count()).where(Payment.booking_id == booking.id)) + 1
        payment = Payment(
            booking_id=booking.id,
            provider=runtime.settings().payment_provider,
            amount=booking.total,
            currency=booking.currency,
            status=PaymentStatus.PENDING,
            idempotency_key=f"checkout:{booking.id}:{attempt}",
        )
        uow.session.add(payment)
        uow.session.flush()
    return _CheckoutPlan(payment.id, payment.provider, _checkout_request(booking, payment))


def _checkout_request(booking: Booking, payment: Payment) -> CheckoutRequest:
    # Every value here is fixed when the hold is made, so a retry sends identical parameters
    # (a provider refuses an idempotency key reused with different ones).
    booking_url = links.BOOKING.url(booking_id=booking.id)
    return CheckoutRequest(
        booking_id=str(booking.id),
        customer_email=booking.user.email,
        lines=[
            CheckoutLine(f"{booking.event.title}: {line.ticket_type.name}", line.unit_price, line.quantity)
            for line in booking.lines
        ],
        currency=booking.currency,
        expires_at=booking.hold_expires_at,
        success_url=booking_url,
        cancel_url=booking_url,
        idempotency_key=payment.idempotency_key,
    )


def _open_payment(uow: UnitOfWork, booking_id: uuid.UUID) -> Payment | None:
    return uow.session.scalar(
        select(Payment)
        .where(Payment.booking_id == booking_id, Payment.status == PaymentStatus.PENDING)
        .order_by(Payment.created_at.desc())
        .limit(1)
    )


def create_checkout(actor_id: uuid.UUID, booking_id: uuid.UUID) -> dict:
    """`POST /bookings/{id}/checkout`: the held booking's open checkout, or a new one.

    Only the customer who booked may pay; the booking's organizers see it but are refused.
    """
    with runtime.database().unit_of_work() as uow:
        booking = uow.session.get(Booking, booking_id)
        actor = uow.session.get(User, actor_id)
        if booking is None or actor is None:
            raise NotFound("No such booking.")
        if booking.user_id != actor.id:
            if is_organizer_of(actor, booking.event):
                raise Forbidden("Only the customer who booked can pay for this booking.")
            raise NotFound("No such booking.")
        if booking.status != BookingStatus.HELD:
            raise Conflict(f"A {booking.status} booking has nothing to pay.", name="not_held")
    try:
        payment = ensure_checkout(booking_id)
    except PaymentProviderError as error:
        raise _as_domain_error(error) from error
    if payment is None:
        raise Conflict("The hold ended before the checkout could be opened.", name="hold_expired")
    with runtime.database().unit_of_work() as uow:
        return checkout_view(payment, uow.session.get(Booking, booking_id))


def _as_domain_error(error: PaymentProviderError) -> DomainError:
    if error.retryable:
        return Unavailable(
            "The payment provider cannot be reached; try again shortly.", name="provider_unavailable"
        )
    if error.code == "hold_expired":
        return Conflict("The hold has ended.", name="hold_expired")
    return Conflict(f"The payment provider refused: {error.message}", name="provider_refused")


def checkout_view(payment: Payment, booking: Booking) -> dict:
    """What the customer needs to pay: the link, and until when paying secures the tickets.

    That is the hold's end, even where the provider keeps the page open longer (Stripe's
    minimum session is 30 minutes): a payment after it is handled as a late payment.
    """
    ends = [moment for moment in (payment.checkout_expires_at, booking.hold_expires_at) if moment]
    return {"checkout_url": payment.checkout_url, "expires_at": min(ends) if ends else None}


def payment_view(uow: UnitOfWork, booking: Booking) -> dict | None:
    """The booking's latest payment as its customer sees it; the link only while it can be paid."""
    payment = uow.session.scalar(
        select(Payment).where(Payment.booking_id == booking.id).order_by(Payment.created_at.desc()).limit(1)
    )
    if payment is None:
        return None
    payable = payment.status == PaymentStatus.PENDING and booking.status == BookingStatus.HELD
    checkout = checkout_view(payment, booking) if payable else {"checkout_url": None, "expires_at": None}
    return {"provider": payment.provider, "status": payment.status, **checkout}


def checkout_links(uow: UnitOfWork, booking_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The open checkout link of each booking that has one (for the emails that carry it)."""
    rows = uow.session.execute(
        select(Payment.booking_id, Payment.checkout_url)
        .where(
            Payment.booking_id.in_(booking_ids),
            Payment.status == PaymentStatus.PENDING,
            Payment.checkout_url.is_not(None),
        )
        .order_by(Payment.created_at)
    )
    return dict(rows.all())


# --- confirmation -----------------------------------------------------------------------------


def confirm_payment(state: SessionState, provider: str) -> str:
    """Record a paid checkout and settle its booking, exactly once however often it is told.

    A held booking is confirmed (held → sold). A payment that arrives after the hold ended
    still confirms the booking if its tickets are free and on sale; otherwise the booking is
    marked `cancelled` with reason `paid_after_hold_expired` and the payment is refunded in
    full. A payment for a booking that was already paid, or cancelled, is refunded too.
    Returns what happened, for logs and tests.
    """
    if state.payment_status not in PAID:
        return "awaiting_payment"
    with runtime.database().unit_of_work() as uow:
        locked = _lock_session_payment(uow, state, provider)
        if locked is None:
            log.warning("paid %s session %s matches no payment of ours", provider, state.session_id)
            return "unknown_session"
        payment, booking, inventory = locked
        if payment.status in (PaymentStatus.PAID, PaymentStatus.REFUNDED):
            return "already_recorded"
        payment.status, payment.payment_intent_id = PaymentStatus.PAID, state.payment_intent_id
        outcome = _settle_paid_booking(uow, inventory, booking, payment)
        uow.commit()
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
    # A session made just before a crash may not have been stored: it is stored now.
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


def fail_payment(state: SessionState, provider: str) -> str:
    """An asynchronous payment (a bank debit) failed. The hold stays: the customer may try again
    with a new checkout before it ends."""
    with runtime.database().unit_of_work() as uow:
        locked = _lock_session_payment(uow, state, provider)
        if locked is None:
            return "unknown_session"
        payment = locked[0]
        if payment.status != PaymentStatus.PENDING:
            return "already_recorded"
        payment.status = PaymentStatus.FAILED
        uow.commit()
    return "failed"


def close_checkout(state: SessionState, provider: str) -> str:
    """A checkout closed unpaid while its booking was held: the hold ends (tickets back,
    waitlist served first). A booking has one open checkout at a time, so nothing else could
    still be paid for it."""
    with runtime.database().unit_of_work() as uow:
        locked = _lock_session_payment(uow, state, provider)
        if locked is None:
            return "unknown_session"
        payment, booking, inventory = locked
        if payment.status != PaymentStatus.PENDING:
            return "already_recorded"
        payment.status = PaymentStatus.EXPIRED
        outcome = "closed"
        if booking.status == BookingStatus.HELD:
            _end_hold(uow, inventory, booking)
            outcome = "hold_released"
        uow.commit()
    return outcome


def _end_hold(uow: UnitOfWork, inventory: Inventory, booking: Booking) -> None:
    now = utcnow()
    expire(booking, inventory, now)
    follow_ups.holds_expired(uow, [booking.id])
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, now))


def reconcile_checkout(state: SessionState, provider: str) -> str:
    """Act on a session's current state, as the provider reports it now."""
    if state.status == SessionStatus.COMPLETE:
        return confirm_payment(state, provider)
    if state.status == SessionStatus.EXPIRED:
        return close_checkout(state, provider)
    return "still_open"


def expire_checkouts(booking_ids: list[str]) -> list[str]:
    """Close at the provider the open checkouts of bookings whose hold ended.

    The provider's answer is the session's final state: a customer who paid in the meantime is
    not lost but confirmed (or refunded) as a late payment.
    """
    with runtime.database().unit_of_work() as uow:
        payments = uow.session.scalars(
            select(Payment)
            .join(Booking, Booking.id == Payment.booking_id)
            .where(
                Payment.booking_id.in_([uuid.UUID(str(b)) for b in booking_ids]),
                Payment.status == PaymentStatus.PENDING,
                Booking.status != BookingStatus.HELD,
            )
        ).all()
    closed, again, cause = [], [], None
    for payment in payments:
        try:
            closed.append(_expire_checkout(payment))
        except PaymentProviderError as error:
            if not error.retryable:
                log.warning("could not close checkout of payment %s: %s", payment.id, error)
                continue
            again.append(str(payment.booking_id))
            cause = error
    if cause is not None:
        raise ProviderCallsFailed(again, cause)
    return closed


def _expire_checkout(payment: Payment) -> str:
    if payment.checkout_session_id is None:
        # Nothing was opened at the provider yet; one made later is closed by `ensure_checkout`.
        with runtime.database().unit_of_work() as uow:
            uow.session.execute(
                update(Payment)
                .where(
                    Payment.id == payment.id,
                    Payment.status == PaymentStatus.PENDING,
                    Payment.checkout_session_id.is_(None),
                )
                .values(status=PaymentStatus.EXPIRED, updated_at=utcnow())
            )
            uow.commit()
        return "closed"
    state = payment_provider(payment.provider).expire_checkout(
        payment.checkout_session_id, f"{payment.idempotency_key}:expire"
    )
    return reconcile_checkout(state, payment.provider)


# --- provider events --------------------------------------------------------------------------


def receive_stripe_webhook(payload: bytes, signature: str) -> bool:
    """Verify a Stripe webhook before reading anything, then store it for processing.

    Returns False for a replay (an event id already stored), which changes nothing.
    """
    secret = runtime.settings().stripe_webhook_secret
    if not secret:
        raise DomainError(
            "This server does not accept Stripe webhooks: STRIPE_WEBHOOK_SECRET is not set.",
            name="webhooks_not_configured",
        )
    try:
        event = verify_stripe_webhook(payload, signature, secret)
    except WebhookVerificationError as error:
        raise DomainError(str(error), name="invalid_webhook") from None
    return record_webhook_event("stripe", event)


def record_webhook_event(provider: str, event: dict) -> bool:
    """Store a provider event by its id and have a task process it; a replay is ignored."""
    with runtime.database().unit_of_work() as uow:
        if uow.session.get(WebhookEvent, event["id"]) is not None:
            return False
        uow.session.add(WebhookEvent(id=event["id"], provider=provider, type=event["type"], payload=event))
        uow.after_commit(lambda: runtime.dispatch(Job.PROCESS_WEBHOOK_EVENT, event_id=event["id"]))
        try:
            uow.commit()
        except IntegrityError:  # the same event, delivered twice at the same moment
            return False
    return True


def process_webhook_event(event_id: str) -> str:
    """Act on a stored event once; a redelivered task finds it processed and does nothing."""
    with runtime.database().unit_of_work() as uow:
        stored = uow.session.get(WebhookEvent, event_id)
        if stored is None or stored.processed_at is not None:
            return "nothing_to_do"
        provider, event = stored.provider, stored.payload
    try:
        outcome = handle_webhook_event(provider, event)
    except PaymentProviderError as error:
        if error.retryable:
            raise
        # Asking again will never succeed (the provider does not know the session): keep the
        # event, marked processed, rather than retrying it forever.
        log.error("provider event %s cannot be processed: %s", event_id, error)
        outcome = "provider_refused"
    with runtime.database().unit_of_work() as uow:
        uow.session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event_id, WebhookEvent.processed_at.is_(None))
            .values(processed_at=utcnow())
        )
        uow.commit()
    return outcome


def handle_webhook_event(provider: str, event: dict) -> str:
    """Dispatch a provider event by type. Deliveries can be late, repeated or out of order, so a
    session event is only a cue: the session is read afresh from the provider and its current
    state is what counts (an `expired` event for a session that was in fact paid confirms it)."""
    event_type, obj = event.get("type"), event.get("data", {}).get("object", {})
    if event_type in SESSION_EVENTS and isinstance(obj.get("id"), str):
        state = payment_provider(provider).retrieve_session(obj["id"])
        if event_type == "checkout.session.async_payment_failed" and state.payment_status not in PAID:
            return fail_payment(state, provider)
        return reconcile_checkout(state, provider)
    if event_type == "charge.refunded" and isinstance(obj.get("payment_intent"), str):
        return refunds.record_provider_refund(obj)
    return "ignored"


def settle_local_checkout(session_id: str, outcome: str) -> bool:
    """The local checkout page's buttons: the outcome becomes an event on the webhook path."""
    try:
        event = payment_provider("local").settle(session_id, outcome)
    except PaymentProviderError as error:
        if error.http_status == 404:
            raise NotFound("No such checkout.") from None
        raise Conflict(
            f"This checkout cannot be used any more: {error.message}.", name="checkout_closed"
        ) from None
    return record_webhook_event("local", event)


def local_checkout_page(session_id: str) -> dict:
    """What the local checkout page shows: the amount, the lines, whether it can still be paid."""
    try:
        return payment_provider("local").session(session_id)
    except PaymentProviderError:
        raise NotFound("No such checkout.") from None


# --- lists and the sweep ----------------------------------------------------------------------


def event_payments_query(event_id: uuid.UUID, status: str | None = None):
    query = (
        select(Payment)
        .join(Booking, Booking.id == Payment.booking_id)
        .where(Booking.event_id == event_id)
        .order_by(Payment.created_at.desc(), Payment.id)
    )
    return query.where(Payment.status == status) if status else query


def sweep_payments(now: dt.datetime | None = None) -> dict[str, int]:
    """Beat's repair job: redo payment work whose job was lost between a commit and its dispatch.

    Held bookings without a checkout, pending refunds, stored but unprocessed provider events,
    and cancelled events with bookings still open are each found from the database alone.
    """
    now = now or utcnow()
    before = now - LOST_JOB_AFTER
    with runtime.database().unit_of_work() as uow:
        unprepared = _held_without_checkout(uow, now, before)
        refund_ids = refunds.stale_refund_ids(uow, now)
        event_ids = uow.session.scalars(
            select(WebhookEvent.id).where(
                WebhookEvent.processed_at.is_(None), WebhookEvent.received_at < before
            )
        ).all()
        cancelled = refunds.unsettled_cancelled_events(uow)
    if unprepared:
        runtime.dispatch(Job.PREPARE_CHECKOUTS, booking_ids=unprepared)
    if refund_ids:
        runtime.dispatch(Job.ISSUE_REFUNDS, refund_ids=refund_ids)
    for event_id in event_ids:
        runtime.dispatch(Job.PROCESS_WEBHOOK_EVENT, event_id=event_id)
    for event_id in cancelled:
        runtime.dispatch(Job.SETTLE_CANCELLED_EVENT, event_id=event_id)
    return {"checkouts": len(unprepared), "refunds": len(refund_ids), "events": len(event_ids),
            "cancelled_events": len(cancelled)}  # fmt: skip


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
        .limit(1000)
    )
    return [str(booking_id) for booking_id in rows]
