"""Helpers for payment tests: bookings brought to a hold with a checkout, and what the database
says about their payments and refunds."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from core.models import Payment, Refund, WebhookEvent
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
    return webhooks.settle_local_checkout(payment.checkout_session_id, token, outcome)


def refunds_of(db, booking_id) -> list[Refund]:
    with db.unit_of_work() as uow:
        return list(uow.session.scalars(select(Refund).where(Refund.booking_id == booking_id)))


def webhook_events(db) -> list[WebhookEvent]:
    with db.unit_of_work() as uow:
        return list(uow.session.scalars(select(WebhookEvent)))
