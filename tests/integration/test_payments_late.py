"""Money that arrives after the hold ended is never lost: it buys the tickets if they are still
free, and is given back in full if they went to someone else."""

from __future__ import annotations

from core import runtime
from core.services import event_cancellation, holds, webhooks
from tests.integration.booking_helpers import ask, assert_counters_agree, drain, end_holds_now, load
from tests.integration.payment_helpers import hold, payment_of, refunds_of
from tests.jobs import Job, run_jobs


def expire_hold(db, booking_id) -> None:
    """The hold runs out and the expiry job runs; closing the checkout at Stripe is still queued."""
    end_holds_now(db, [booking_id])
    assert holds.expire_holds(runtime.database()).expired_holds == 1
    assert load(db, booking_id).status == "expired"


def pay_and_process(db, stub, session_id) -> str:
    event = stub.complete_session(session_id)
    with db.unit_of_work() as uow:
        assert webhooks.record_webhook_event(uow, "stripe", event)
        uow.commit()
    return webhooks.process_webhook_event(db, event["id"])


def test_paid_after_the_hold_expired_while_the_tickets_are_still_free_is_confirmed(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer, quota=1)
    [booking_id] = hold(customers[:1], event)
    expire_hold(db, booking_id)

    assert (
        pay_and_process(db, use_stripe, payment_of(db, booking_id).checkout_session_id)
        == "confirmed_after_hold_expired"
    )
    assert load(db, booking_id).status == "confirmed"
    assert payment_of(db, booking_id).status == "paid" and refunds_of(db, booking_id) == []
    counts = assert_counters_agree(db, event)
    assert (counts["held"], counts["sold"]) == (0, 1)


def test_closing_the_checkout_finds_a_payment_made_meanwhile_and_confirms_it(
    db, organizer, make_event, customers, use_stripe
):
    """The webhook is lost; the expiry's call to close the session learns it was paid."""
    event = make_event(organizer, quota=1)
    [booking_id] = hold(customers[:1], event)
    session_id = payment_of(db, booking_id).checkout_session_id
    use_stripe.complete_session(session_id)  # paid, but no webhook arrives
    expire_hold(db, booking_id)

    run_jobs("expire_checkouts")
    assert load(db, booking_id).status == "confirmed"
    assert payment_of(db, booking_id).status == "paid"
    assert assert_counters_agree(db, event)["sold"] == 1


def test_paid_after_the_tickets_went_to_the_waitlist_is_refunded_in_full(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer, quota=1, price=4200)
    [late] = hold(customers[:1], event)
    waiter = ask(customers[1], event, join_waitlist=True)
    drain(event)
    expire_hold(db, late)
    assert load(db, waiter).status == "held"  # the waitlist was served when the tickets came back

    assert pay_and_process(db, use_stripe, payment_of(db, late).checkout_session_id) == "refunding"
    booking = load(db, late)
    assert (booking.status, booking.reason) == ("cancelled", "paid_after_hold_expired")
    jobs = run_jobs("issue_refunds")

    payment = payment_of(db, late)
    [refund] = refunds_of(db, late)
    assert (refund.status, refund.amount, refund.reason) == ("succeeded", 4200, "paid_after_hold_expired")
    assert payment.status == "refunded"
    [sent] = use_stripe.requests_to("POST", "/v1/refunds")
    assert sent.idempotency_key == f"refund:{payment.id}"
    assert sent.params == {
        "payment_intent": payment.payment_intent_id,
        "amount": "4200",
        "reason": "requested_by_customer",
    }
    assert Job("send_booking_emails", {"booking_ids": [str(late)], "kind": "booking_refunded"}) in jobs
    assert load(db, waiter).status == "held"
    counts = assert_counters_agree(db, event)
    assert (counts["held"], counts["sold"]) == (1, 0)


def test_a_late_payment_for_a_cancelled_event_is_refunded(db, organizer, make_event, customers, use_stripe):
    from core.services import events

    event = make_event(organizer, quota=3)
    [booking_id] = hold(customers[:1], event)
    with db.unit_of_work() as uow:
        events.cancel_event(uow, organizer, event.id)
        uow.commit()
    event_cancellation.settle_cancelled_event(db, event.id)
    assert pay_and_process(db, use_stripe, payment_of(db, booking_id).checkout_session_id) == "refunding"
    run_jobs("issue_refunds")
    [refund] = refunds_of(db, booking_id)
    assert (refund.reason, refund.status) == ("event_cancelled", "succeeded")
    assert load(db, booking_id).status == "cancelled"
    assert assert_counters_agree(db, event)["sold"] == 0
