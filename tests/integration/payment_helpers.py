"""Helpers for payment tests: bookings brought to a hold with a checkout, and what the database
says about their payments and refunds."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import select

from core.models import Booking, Payment, Refund, Ticket, WebhookEvent
from core.services import bookings
from tests.integration.booking_helpers import ask, drain
from tests.jobs import run_jobs


def hold(customers, event, quantity: int = 1, **ask_options) -> list[uuid.UUID]:
    """Each customer asks for `quantity` tickets; the drainer decides and the checkouts are made."""
    ids = [ask(customer, event, quantity, **ask_options) for customer in customers]
    drain(event)
    run_jobs("prepare_checkouts")
    return ids


def payments_of(db, booking_id) -> list[Payment]:
    with db.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(Payment).where(Payment.booking_id == booking_id).order_by(Payment.created_at)
            )
        )


def payment_of(db, booking_id) -> Payment:
    [payment] = payments_of(db, booking_id)
    return payment


def pay_on_local_page(db, booking_id, outcome: str = "paid") -> bool:
    """What the customer's press on the local checkout page does, through its own link."""
    from core.services import webhooks

    payment = payment_of(db, booking_id)
    token = payment.checkout_url.rsplit("/", 1)[1]
    return webhooks.settle_local_checkout(db, payment.checkout_session_id, token, outcome)


def refunds_of(db, booking_id) -> list[Refund]:
    with db.unit_of_work() as uow:
        return list(uow.session.scalars(select(Refund).where(Refund.booking_id == booking_id)))


def webhook_events(db) -> list[WebhookEvent]:
    with db.unit_of_work() as uow:
        return list(uow.session.scalars(select(WebhookEvent)))


def confirm_paid(db, stub, booking_ids) -> None:
    """Each booking's customer pays at the Stripe stub, and Stripe's webhook is processed."""
    from core.services import webhooks

    for booking_id in booking_ids:
        event = stub.complete_session(payment_of(db, booking_id).checkout_session_id)
        assert webhooks.handle_webhook_event(db, "stripe", event) == "confirmed"
    run_jobs()  # the ticket jobs: not ours to run


def cancel(db, actor, booking_id, ticket_ids=None) -> Booking:
    """`actor` cancels the booking (or only `ticket_ids` of it), in a transaction of its own."""
    with db.unit_of_work() as uow:
        booking = bookings.cancel_booking(uow, actor, booking_id, ticket_ids)
        uow.commit()
        return booking


def valid_tickets(db, booking_id) -> list[uuid.UUID]:
    with db.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(Ticket.id)
                .where(Ticket.booking_id == booking_id, Ticket.status == "valid")
                .order_by(Ticket.id)
            )
        )


def money_moved(stub) -> Counter:
    """Refunds that moved money at the stub, per payment intent (replays of a key move none)."""
    return Counter(
        r.params["payment_intent"]
        for r in stub.requests_to("POST", "/v1/refunds")
        if r.status == 200 and not r.replayed
    )


def sweep_payments(db, now=None) -> dict[str, int]:
    """Beat's payment sweep, in a transaction of its own (its jobs are sent when it commits)."""
    from core.services import payment_sweep

    with db.unit_of_work() as uow:
        swept = payment_sweep.sweep_payments(uow, now)
        uow.commit()
    return swept
