"""A paid session confirms a booking only if it took the booking's amount in its currency: a
session made elsewhere with our booking id in its metadata, but a lower price, buys nothing and
is given back in full."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Payment
from core.payments import payment_provider
from core.payments.provider import CheckoutLine, CheckoutRequest
from tests.integration.booking_helpers import assert_counters_agree, load
from tests.integration.payment_helpers import hold, payments_of, refunds_of
from tests.jobs import run_jobs
from tests.payment_fixtures import signed

WEBHOOK = "/api/v1/payments/stripe/webhook"


def deliver(client, event) -> None:
    body, headers = signed(event)
    assert client.post(WEBHOOK, data=body, headers=headers).status_code == 200
    run_jobs("process_webhook_event", "issue_refunds")


def held_without_stored_session(db, customer, event):
    """A held booking whose checkout session Stripe made but we never stored (a crash between
    the two): the only state in which a session is matched by the booking id in its metadata."""
    [booking_id] = hold([customer], event, quantity=2)
    with db.unit_of_work() as uow:
        payment = uow.session.scalar(select(Payment).where(Payment.booking_id == booking_id))
        session_id, payment.checkout_session_id = payment.checkout_session_id, None
        uow.commit()
    return booking_id, session_id


def foreign_session(booking, unit_amount: int, currency: str) -> str:
    """A session opened at Stripe by someone else, carrying our booking's id as metadata."""
    checkout = payment_provider("stripe").create_checkout(
        CheckoutRequest(
            booking_id=str(booking.id),
            customer_email="someone@example.test",
            lines=[CheckoutLine("Cheap", unit_amount, 1)],
            currency=currency,
            expires_at=booking.hold_expires_at,
            success_url="http://elsewhere.test",
            cancel_url="http://elsewhere.test",
            idempotency_key=f"elsewhere:{booking.id}",
        )  # fmt: skip
    )
    return checkout.session_id


@pytest.mark.parametrize(
    ("unit_amount", "currency"),
    [pytest.param(100, "EUR", id="lower-amount"), pytest.param(5000, "USD", id="other-currency")],
)
def test_a_paid_session_for_another_amount_is_not_confirmed_and_is_refunded(
    db, client, organizer, make_event, customers, use_stripe, caplog, unit_amount, currency
):
    event = make_event(organizer, quota=5, price=2500)
    booking_id, own_session = held_without_stored_session(db, customers[0], event)
    counts_before = assert_counters_agree(db, event)
    cheap = foreign_session(load(db, booking_id), unit_amount, currency)

    deliver(client, use_stripe.complete_session(cheap))

    assert load(db, booking_id).status == "held"
    assert assert_counters_agree(db, event) == counts_before
    assert any(r.levelname == "ERROR" and cheap in r.getMessage() for r in caplog.records)
    [refund] = refunds_of(db, booking_id)
    assert (refund.reason, refund.status, refund.amount, refund.currency) == (
        "amount_mismatch",
        "succeeded",
        unit_amount,
        currency,
    )
    [sent] = use_stripe.requests_to("POST", "/v1/refunds")
    assert sent.params["amount"] == str(unit_amount)
    assert sent.params["payment_intent"] == use_stripe.sessions[cheap]["payment_intent"]

    # The booking's own checkout is untouched, and paying it still confirms the booking.
    deliver(client, use_stripe.complete_session(own_session))
    assert load(db, booking_id).status == "confirmed"
    ours = [p for p in payments_of(db, booking_id) if p.checkout_session_id == own_session]
    assert [(p.status, p.amount) for p in ours] == [("paid", 5000)]
    assert assert_counters_agree(db, event)["sold"] == 2


def test_a_redelivered_mismatched_session_is_refunded_once(
    db, client, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer, quota=5, price=2500)
    booking_id, _ = held_without_stored_session(db, customers[0], event)
    paid = use_stripe.complete_session(foreign_session(load(db, booking_id), 100, "EUR"))
    deliver(client, paid)
    deliver(client, {**paid, "id": paid["id"] + "_again"})
    assert [refund.amount for refund in refunds_of(db, booking_id)] == [100]
    assert load(db, booking_id).status == "held"


def test_an_expired_foreign_session_does_not_end_the_hold(
    db, client, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer, quota=5, price=2500)
    booking_id, _ = held_without_stored_session(db, customers[0], event)
    deliver(client, use_stripe.expire_session(foreign_session(load(db, booking_id), 100, "EUR")))
    assert load(db, booking_id).status == "held"
    assert [p.status for p in payments_of(db, booking_id)] == ["pending"]
