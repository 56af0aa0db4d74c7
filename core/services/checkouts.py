"""Opening and closing checkouts for held bookings, and reading them back for customers.

Provider calls never happen inside a database transaction. Each step reads what it needs and
ends its transaction, calls the provider, then stores the answer in a new short transaction. A
crash between the call and the store is harmless: every call carries an idempotency key derived
from our own ids, so doing the step again gets the provider's first answer back.

So the services here that call the provider take the database (`db`) and open each short unit
of work themselves, committing it before the provider is called; their docstrings say so. What
a paid or closed checkout does to its booking is `core.services.settlement`'s; a payment's
status changes only through `core.payment_lifecycle`, a booking's through `core.lifecycle`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from core import booking_links, payment_lifecycle, runtime
from core.db import Database, UnitOfWork
from core.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable
from core.jobs import Job
from core.models import Booking, BookingLine, Payment, User, utcnow
from core.payments import payment_provider
from core.payments.provider import (
    Checkout,
    CheckoutLine,
    CheckoutRequest,
    PaymentProviderError,
    for_each_retrying,
)
from core.services import follow_ups
from core.services.permissions import is_organizer_of
from core.services.settlement import reconcile_checkout
from core.statuses import BookingStatus, PaymentStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _CheckoutPlan:
    booking_id: uuid.UUID
    payment_id: uuid.UUID
    provider: str
    request: CheckoutRequest


@dataclass
class _Planned:
    """What one planning transaction found for its bookings (each held one in one of the lists)."""

    already_open: list[Payment]
    to_open: list[_CheckoutPlan]
    # Not locked here (another transaction holds it, or it does not exist): left to `ensure_checkout`.
    contended: list[uuid.UUID]


def prepare_checkouts(db: Database, booking_ids: list[str], notify: str | None = None) -> list[str]:
    """Give each held booking an open checkout; the job that follows every batch of new holds.

    Two transactions for the whole job, not two per booking: a rush's batch holds hundreds at
    once, and the job's share of the machine's CPU (the ORM, PostgreSQL's commits) came out of
    the web's (docs/architecture.md, "How a booking flows"). The bookings are locked with `SKIP
    LOCKED`, so this transaction never waits holding others' locks (no deadlock with a sweep);
    one that another transaction holds is done alone afterwards by `ensure_checkout`, which
    waits for it. The provider is called between the two, once per booking.

    With `notify`, the customers of the bookings that got one are then sent that email (the
    waitlist promotion, which must carry the checkout link). Returns the ids that have a checkout.
    """
    ids = sorted({uuid.UUID(str(booking_id)) for booking_id in booking_ids})
    with db.unit_of_work() as uow:
        planned = _plan_checkouts(uow, ids, wait=False)
        uow.commit()
    ready = [str(payment.booking_id) for payment in planned.already_open]
    opened: list[tuple[_CheckoutPlan, Checkout]] = []

    def open_checkout(item: _CheckoutPlan | uuid.UUID) -> None:
        if isinstance(item, uuid.UUID):
            if ensure_checkout(db, item) is not None:
                ready.append(str(item))
        else:
            opened.append((item, payment_provider(item.provider).create_checkout(item.request)))

    try:
        for_each_retrying([*planned.to_open, *planned.contended], open_checkout, retry_id=_booking_of)
    finally:
        # What the provider opened is stored, and those that have their checkout are told now,
        # even while others wait for a retry.
        if opened:
            with db.unit_of_work() as uow:
                ready += [str(payment.booking_id) for payment in _store_checkouts(uow, opened)]
                uow.commit()
        if notify and ready:
            runtime.dispatch(Job.SEND_BOOKING_EMAILS, kind=notify, booking_ids=ready)
    return ready


def _booking_of(item: _CheckoutPlan | uuid.UUID) -> str:
    return str(item if isinstance(item, uuid.UUID) else item.booking_id)


def ensure_checkout(db: Database, booking_id: uuid.UUID) -> Payment | None:
    """The booking's open checkout, made if it has none; None once the booking is not held.

    The payment row is committed on `db` before the provider is asked, and its session stored
    in a second unit of work, committed here."""
    with db.unit_of_work() as uow:
        planned = _plan_checkouts(uow, [booking_id], wait=True)
        uow.commit()
    if planned.already_open:
        return planned.already_open[0]
    if not planned.to_open:
        return None
    plan = planned.to_open[0]
    checkout = payment_provider(plan.provider).create_checkout(plan.request)
    with db.unit_of_work() as uow:
        held = _store_checkouts(uow, [(plan, checkout)])
        uow.commit()
    return held[0] if held else None


def _plan_checkouts(uow: UnitOfWork, booking_ids: list[uuid.UUID], *, wait: bool) -> _Planned:
    """Under the bookings' row locks: each held one's open checkout, or a new payment row and what
    to ask the provider for. Without `wait`, a booking locked elsewhere is skipped (`contended`).

    The payment row is stored before the provider is called, so its idempotency key is fixed
    (`checkout:<booking id>:<attempt>`) and a retry, or a concurrent job, asks for the same
    session; the unique key also stops two jobs from making two rows for one attempt. The locks
    are taken in id order, on the bookings alone (their customers, events and lines are read in
    queries of their own, unlocked).
    """
    locked = uow.session.scalars(
        select(Booking)
        .where(Booking.id.in_(booking_ids))
        .order_by(Booking.id)
        .with_for_update(skip_locked=not wait)
        .options(
            selectinload(Booking.user),
            selectinload(Booking.event),
            selectinload(Booking.lines).selectinload(BookingLine.ticket_type),
        )
        .execution_options(populate_existing=True)
    ).all()
    found = {booking.id for booking in locked}
    held = [booking for booking in locked if booking.status == BookingStatus.HELD]
    planned = _Planned([], [], [booking_id for booking_id in booking_ids if booking_id not in found])
    if not held:
        return planned
    held_ids = [booking.id for booking in held]
    open_payments = {
        payment.booking_id: payment  # the latest wins
        for payment in uow.session.scalars(
            select(Payment)
            .where(Payment.booking_id.in_(held_ids), Payment.status == PaymentStatus.PENDING)
            .order_by(Payment.created_at)
        )
    }
    attempts = dict(
        uow.session.execute(
            select(Payment.booking_id, func.count())
            .where(Payment.booking_id.in_(held_ids))
            .group_by(Payment.booking_id)
        ).all()
    )
    unopened: list[tuple[Booking, Payment]] = []
    for booking in held:
        payment = open_payments.get(booking.id)
        if payment is not None and payment.checkout_session_id is not None:
            planned.already_open.append(payment)
            continue
        if payment is None:
            payment = payment_lifecycle.open_payment(
                booking_id=booking.id,
                provider=runtime.settings().payment_provider,
                amount=booking.total,
                currency=booking.currency,
                idempotency_key=f"checkout:{booking.id}:{attempts.get(booking.id, 0) + 1}",
            )
            uow.session.add(payment)
        unopened.append((booking, payment))
    uow.session.flush()  # the new payments' ids
    planned.to_open = [
        _CheckoutPlan(booking.id, payment.id, payment.provider, _checkout_request(booking, payment))
        for booking, payment in unopened
    ]
    return planned


def _store_checkouts(uow: UnitOfWork, opened: list[tuple[_CheckoutPlan, Checkout]]) -> list[Payment]:
    """Store the sessions the provider made; returns the payments whose booking is still held.

    A payment closed unopened meanwhile is reopened (a session exists after all, so it could be
    paid: closing it now settles it at the provider); a hold that ended while the session was
    made has it closed (`holds_released`)."""
    payments = {
        payment.id: payment
        for payment in uow.session.scalars(
            select(Payment)
            .where(Payment.id.in_([plan.payment_id for plan, _ in opened]))
            .order_by(Payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    bookings = {
        booking.id: booking
        for booking in uow.session.scalars(
            select(Booking)
            .where(Booking.id.in_([plan.booking_id for plan, _ in opened]))
            .execution_options(populate_existing=True)
        )
    }
    held, released = [], []
    for plan, checkout in opened:
        payment = payments[plan.payment_id]
        if payment.checkout_session_id is None and payment.status == PaymentStatus.EXPIRED:
            payment_lifecycle.reopen(payment, checkout)
        elif payment.checkout_session_id is None:
            payment_lifecycle.store_checkout(payment, checkout)
        (held if bookings[plan.booking_id].status == BookingStatus.HELD else released).append(payment)
    if released:
        follow_ups.holds_released(uow, [payment.booking_id for payment in released])
    return held


def _checkout_request(booking: Booking, payment: Payment) -> CheckoutRequest:
    # Every value here is fixed when the hold is made, so a retry sends identical parameters
    # (a provider refuses an idempotency key reused with different ones).
    booking_url = booking_links.link_for(booking).url
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


def create_checkout(db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID) -> dict:
    """`POST /bookings/{id}/checkout`: the held booking's open checkout, or a new one.

    Only the customer who booked may pay; the booking's organizers see it but are refused. Reads
    and `ensure_checkout` are each their own unit of work on `db` (the provider is called between).
    """
    with db.unit_of_work() as uow:
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
        payment = ensure_checkout(db, booking_id)
    except PaymentProviderError as error:
        raise _as_domain_error(error) from error
    if payment is None:
        raise Conflict("The hold ended before the checkout could be opened.", name="hold_expired")
    with db.unit_of_work() as uow:
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


def payment_views(uow: UnitOfWork, bookings: list[Booking]) -> dict[uuid.UUID, dict | None]:
    """Each booking's latest payment as its customer sees it (the link only while it can be
    paid), in one query for them all (a batch of decisions is read at once)."""
    latest: dict[uuid.UUID, Payment] = {}
    for payment in uow.session.scalars(
        select(Payment).where(Payment.booking_id.in_([b.id for b in bookings])).order_by(Payment.created_at)
    ):
        latest[payment.booking_id] = payment
    return {booking.id: _payment_view(latest.get(booking.id), booking) for booking in bookings}


def _payment_view(payment: Payment | None, booking: Booking) -> dict | None:
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


def expire_checkouts(db: Database, booking_ids: list[str]) -> list[str]:
    """Close at the provider the open checkouts of bookings whose hold ended.

    The provider's answer is the session's final state: a customer who paid in the meantime is
    not lost but confirmed (or refunded) as a late payment. Each checkout's answer is settled in
    a unit of work of its own on `db`, committed here.
    """
    with db.unit_of_work() as uow:
        payments = uow.session.scalars(
            select(Payment)
            .join(Booking, Booking.id == Payment.booking_id)
            .where(
                Payment.booking_id.in_([uuid.UUID(str(b)) for b in booking_ids]),
                Payment.status == PaymentStatus.PENDING,
                Booking.status != BookingStatus.HELD,
            )
        ).all()

    def expire_checkout(payment: Payment) -> str:
        return _expire_checkout(db, payment)

    return for_each_retrying(payments, expire_checkout, retry_id=lambda payment: str(payment.booking_id))


def _expire_checkout(db: Database, payment: Payment) -> str:
    if payment.checkout_session_id is None:
        # Nothing was opened at the provider yet; one made later is closed by `ensure_checkout`.
        with db.unit_of_work() as uow:
            payment_lifecycle.expire_unopened(uow, payment.id, utcnow())
            uow.commit()
        return "closed"
    state = payment_provider(payment.provider).expire_checkout(
        payment.checkout_session_id, f"{payment.idempotency_key}:expire"
    )
    with db.unit_of_work() as uow:
        outcome = reconcile_checkout(uow, state, payment.provider)
        uow.commit()
    return outcome


def event_payments_query(event_id: uuid.UUID, status: str | None = None):
    query = (
        select(Payment)
        .join(Booking, Booking.id == Payment.booking_id)
        .where(Booking.event_id == event_id)
        .order_by(Payment.created_at.desc(), Payment.id)
    )
    return query.where(Payment.status == status) if status else query
