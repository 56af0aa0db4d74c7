"""Provider events as they really arrive: forged, stale, late, repeated and out of order."""

from __future__ import annotations

import copy
import json
import time

import pytest
from sqlalchemy import func, select

from core import runtime
from core.models import Payment, WebhookEvent
from core.services import checkouts, holds
from tests.integration.booking_helpers import assert_counters_agree, end_holds_now, load
from tests.integration.payment_helpers import hold, payment_of, payments_of, refunds_of
from tests.jobs import run_jobs
from tests.payment_fixtures import signed

WEBHOOK = "/api/v1/payments/stripe/webhook"


def deliver(client, event, **sign_options):
    body, headers = signed(event, **sign_options)
    return client.post(WEBHOOK, data=body, headers=headers)


def process(client, event) -> None:
    assert deliver(client, event).status_code == 200
    run_jobs("process_webhook_event")


def stale(event: dict, type_: str, **session_changes) -> dict:
    """A copy of `event` as another, earlier delivery would have shown it."""
    copied = copy.deepcopy(event)
    copied["id"] += "_" + type_.rsplit(".", 1)[-1]
    copied["type"] = type_
    copied["data"]["object"].update(session_changes)
    return copied


def stored_event_count(db) -> int:
    with db.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(WebhookEvent))


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda body, headers: (body, {**headers, "Stripe-Signature": "t=1,v1=deadbeef"}),
            id="bad-signature",
        ),
        pytest.param(
            lambda body, headers: (body.replace(b"complete", b"COMPLETE"), headers), id="changed-body"
        ),
        pytest.param(lambda body, headers: (body, {}), id="no-signature"),
    ],
)
def test_an_unverifiable_webhook_is_refused_and_changes_nothing(
    db, client, organizer, make_event, customers, use_stripe, tamper
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    completed = use_stripe.complete_session(payment_of(db, booking_id).checkout_session_id)
    body, headers = tamper(*signed(completed))
    answer = client.post(WEBHOOK, data=body, headers=headers)
    assert answer.status_code == 400 and answer.json["errors"]["reason"] == "invalid_webhook"
    assert stored_event_count(db) == 0 and run_jobs() == []
    assert load(db, booking_id).status == "held"


def test_a_webhook_signed_too_long_ago_is_refused(db, client, organizer, make_event, customers, use_stripe):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    completed = use_stripe.complete_session(payment_of(db, booking_id).checkout_session_id)
    answer = deliver(client, completed, timestamp=int(time.time()) - 301)
    assert answer.status_code == 400 and "timestamp" in answer.json["message"].lower()
    assert stored_event_count(db) == 0 and load(db, booking_id).status == "held"


@pytest.mark.parametrize(
    "body", [b"not json at all", b'{"object": "event"}', json.dumps([1, 2]).encode(), b"\xff\xfe"]
)
def test_a_malformed_but_signed_body_is_refused(db, client, use_stripe, body):
    from tests.payment_fixtures import WEBHOOK_SECRET
    from tests.stripe_stub import sign_webhook

    answer = client.post(WEBHOOK, data=body, headers={"Stripe-Signature": sign_webhook(body, WEBHOOK_SECRET)})
    assert answer.status_code == 400
    assert stored_event_count(db) == 0


def test_webhooks_are_refused_where_no_webhook_secret_is_configured(db, client):
    body, headers = signed({"id": "evt_1", "object": "event", "type": "x", "data": {"object": {}}}, secret="")
    answer = client.post(WEBHOOK, data=body, headers=headers)
    assert answer.status_code == 400 and answer.json["errors"]["reason"] == "webhooks_not_configured"
    assert stored_event_count(db) == 0


def test_an_expired_event_for_a_session_that_was_paid_confirms_it(
    db, client, organizer, make_event, customers, use_stripe
):
    """Out of order: a stale `expired` arrives first; the session, read afresh, says it was paid."""
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    completed = use_stripe.complete_session(payment_of(db, booking_id).checkout_session_id)

    process(client, stale(completed, "checkout.session.expired", status="expired", payment_status="unpaid"))
    assert load(db, booking_id).status == "confirmed"
    process(client, completed)
    assert load(db, booking_id).status == "confirmed"
    assert payment_of(db, booking_id).status == "paid"
    assert assert_counters_agree(db, event)["sold"] == 1


def test_a_completed_event_for_a_session_that_expired_unpaid_changes_nothing(
    db, client, organizer, make_event, customers, use_stripe
):
    """Out of order the other way: expired first, then a forged-looking stale `completed`."""
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    expired = use_stripe.expire_session(payment_of(db, booking_id).checkout_session_id)

    process(client, expired)
    assert load(db, booking_id).status == "expired"
    process(client, stale(expired, "checkout.session.completed", status="complete", payment_status="paid"))
    assert load(db, booking_id).status == "expired"
    assert payment_of(db, booking_id).status == "expired"
    assert assert_counters_agree(db, event)["held"] == 0


def test_a_delayed_payment_confirms_only_when_it_clears(
    db, client, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    session_id = payment_of(db, booking_id).checkout_session_id
    succeeded = use_stripe.finish_async_payment(session_id, succeeded=True)
    started = stale(succeeded, "checkout.session.completed", payment_status="unpaid")

    # delivered in reverse: the success first, then the earlier "completed, unpaid"
    process(client, succeeded)
    process(client, started)
    assert load(db, booking_id).status == "confirmed"
    assert assert_counters_agree(db, event)["sold"] == 1


def test_a_delayed_payment_still_processing_waits(db, client, organizer, make_event, customers, use_stripe):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    process(client, use_stripe.start_async_payment(payment_of(db, booking_id).checkout_session_id))
    assert load(db, booking_id).status == "held" and payment_of(db, booking_id).status == "pending"


def test_a_failed_delayed_payment_keeps_the_hold_and_a_new_checkout_can_be_paid(
    db, client, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    first = payment_of(db, booking_id)
    use_stripe.start_async_payment(first.checkout_session_id)
    process(client, use_stripe.finish_async_payment(first.checkout_session_id, succeeded=False))
    assert load(db, booking_id).status == "held" and payment_of(db, booking_id).status == "failed"

    second = checkouts.create_checkout(db, customers[0].id, booking_id)
    assert second["checkout_url"] != first.checkout_url
    failed, retry = payments_of(db, booking_id)
    assert (failed.status, retry.status, retry.idempotency_key) == (
        "failed",
        "pending",
        f"checkout:{booking_id}:2",
    )
    process(client, use_stripe.complete_session(retry.checkout_session_id))
    assert load(db, booking_id).status == "confirmed"


def test_a_stale_expired_event_for_a_failed_checkout_does_not_end_the_hold(
    db, client, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    first = payment_of(db, booking_id)
    use_stripe.start_async_payment(first.checkout_session_id)
    process(client, use_stripe.finish_async_payment(first.checkout_session_id, succeeded=False))
    newer = checkouts.ensure_checkout(db, booking_id)
    # a stale "expired" for the first session: read afresh it is complete (unpaid), not expired
    process(client, stale(use_stripe.events[0], "checkout.session.expired", status="expired"))
    assert load(db, booking_id).status == "held"
    assert payments_of(db, booking_id)[-1].id == newer.id and newer.status == "pending"


def test_a_session_stored_only_at_the_provider_is_found_by_its_booking(
    db, client, organizer, make_event, customers, use_stripe
):
    """A crash between Stripe making the session and our storing it: the webhook still lands."""
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    with db.unit_of_work() as uow:
        payment = uow.session.scalar(select(Payment).where(Payment.booking_id == booking_id))
        session_id, payment.checkout_session_id = payment.checkout_session_id, None
        uow.commit()
    process(client, use_stripe.complete_session(session_id))
    assert load(db, booking_id).status == "confirmed"
    assert payment_of(db, booking_id).checkout_session_id == session_id


def test_charge_refunded_completes_a_refund_the_provider_left_pending(
    db, client, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    completed = use_stripe.complete_session(payment_of(db, booking_id).checkout_session_id)
    process(client, completed)
    use_stripe.refund_status = "pending"
    from core.services import bookings

    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, organizer, booking_id)
        uow.commit()
    jobs = run_jobs("issue_refunds")
    [refund] = refunds_of(db, booking_id)
    assert refund.status == "pending" and refund.provider_refund_id.startswith("re_")
    assert "send_booking_emails" not in [job.name for job in jobs]  # not told before the money is back

    process(client, use_stripe.charge_refunded_event(completed["data"]["object"]["payment_intent"]))
    [refund] = refunds_of(db, booking_id)
    assert refund.status == "succeeded" and payment_of(db, booking_id).status == "refunded"


def test_an_expired_hold_closes_its_checkout_at_the_provider(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    session_id = payment_of(db, booking_id).checkout_session_id
    end_holds_now(db, [booking_id])
    holds.expire_holds(runtime.database())
    run_jobs("expire_checkouts")
    [expire] = use_stripe.requests_to("POST", f"/v1/checkout/sessions/{session_id}/expire")
    assert expire.idempotency_key == f"checkout:{booking_id}:1:expire"
    assert use_stripe.sessions[session_id]["status"] == "expired"
    assert payment_of(db, booking_id).status == "expired"
