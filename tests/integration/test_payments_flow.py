"""A held booking is paid and confirmed, with each provider, through the webhook path."""

from __future__ import annotations

import datetime as dt

from core import booking_links
from core.models import utcnow
from core.payments import payment_provider
from core.services import checkouts, event_cancellation, webhooks
from tests.integration.booking_helpers import ask, assert_counters_agree, drain, load
from tests.integration.payment_helpers import hold, pay_on_local_page, payment_of, webhook_events
from tests.jobs import Job, names, run_jobs
from tests.payment_fixtures import signed


def test_a_hold_gets_its_local_checkout_and_paying_on_the_page_confirms_it(
    db, organizer, make_event, customers
):
    event = make_event(organizer, quota=5, price=2500)
    [booking_id] = hold(customers[:1], event, quantity=2)

    payment = payment_of(db, booking_id)
    assert (payment.provider, payment.status, payment.amount, payment.currency) == (
        "local",
        "pending",
        5000,
        "EUR",
    )
    assert payment.checkout_url.startswith(
        f"http://boxoffice.test/api/v1/payments/local/{payment.checkout_session_id}/"
    )
    assert payment.checkout_expires_at == load(db, booking_id).hold_expires_at.replace(microsecond=0)

    assert pay_on_local_page(db, booking_id) is True
    jobs = run_jobs("process_webhook_event")

    assert load(db, booking_id).status == "confirmed"
    paid = payment_of(db, booking_id)
    assert paid.status == "paid" and paid.payment_intent_id.startswith("lpi_")
    counts = assert_counters_agree(db, event)
    assert (counts["held"], counts["sold"]) == (0, 2)
    assert [job.kwargs for job in jobs if job.name == "issue_tickets"] == [{"booking_ids": [str(booking_id)]}]


def test_a_hold_gets_its_stripe_checkout_and_the_signed_webhook_confirms_it(
    db, client, organizer, make_event, customers, use_stripe
):
    stub = use_stripe
    event = make_event(organizer, quota=5, price=2500)
    [booking_id] = hold(customers[:1], event, quantity=2)

    payment = payment_of(db, booking_id)
    [created] = stub.requests_to("POST", "/v1/checkout/sessions")
    assert created.idempotency_key == payment.idempotency_key == f"checkout:{booking_id}:1"
    assert created.params["metadata"] == {"booking_id": str(booking_id)}
    assert created.params["success_url"] == booking_links.make_link(booking_id, event.ends_at).url
    assert payment.checkout_url == stub.sessions[payment.checkout_session_id]["url"]

    body, headers = signed(stub.complete_session(payment.checkout_session_id))
    answer = client.post("/api/v1/payments/stripe/webhook", data=body, headers=headers)
    assert answer.status_code == 200 and answer.json == {"received": True, "duplicate": False}
    assert load(db, booking_id).status == "held"  # acknowledged at once; a task does the work
    assert names(run_jobs("process_webhook_event")) == ["process_webhook_event", "issue_tickets"]

    assert load(db, booking_id).status == "confirmed"
    paid = payment_of(db, booking_id)
    assert paid.status == "paid"
    assert paid.payment_intent_id == stub.sessions[payment.checkout_session_id]["payment_intent"]
    assert paid.amount == stub.payment_intents[paid.payment_intent_id]["amount_received"] == 5000
    counts = assert_counters_agree(db, event)
    assert (counts["held"], counts["sold"]) == (0, 2)
    [stored] = webhook_events(db)
    assert stored.processed_at is not None


def test_the_same_webhook_delivered_five_times_confirms_once(
    db, client, organizer, make_event, customers, use_stripe
):
    stub = use_stripe
    event = make_event(organizer, quota=5)
    [booking_id] = hold(customers[:1], event, quantity=1)
    completed = stub.complete_session(payment_of(db, booking_id).checkout_session_id)

    answers = [
        client.post("/api/v1/payments/stripe/webhook", data=b, headers=h) for b, h in [signed(completed)] * 5
    ]
    assert [a.json["duplicate"] for a in answers] == [False, True, True, True, True]
    jobs = run_jobs("process_webhook_event")
    # the stored event is processed once, even when its task is delivered again
    assert webhooks.process_webhook_event(db, completed["id"]) == "nothing_to_do"

    assert names(jobs) == ["process_webhook_event", "issue_tickets"]
    assert len(webhook_events(db)) == 1
    assert payment_of(db, booking_id).status == "paid"  # exactly one payment row
    assert assert_counters_agree(db, event)["sold"] == 1


def test_a_free_booking_is_confirmed_by_the_drainer_and_sent_to_the_ticket_side(
    db, organizer, make_event, customers
):
    event = make_event(organizer, price=0)
    booking_id = ask(customers[0], event)
    drain(event)
    assert load(db, booking_id).status == "confirmed"
    jobs = [job for job in run_jobs() if job.name != "drain_event"]
    assert jobs == [Job("issue_tickets", {"booking_ids": [str(booking_id)]})]
    assert checkouts.ensure_checkout(db, booking_id) is None  # nothing to pay


def test_a_drained_batch_sends_one_checkout_job_for_all_its_holds(db, organizer, make_event, customers):
    event = make_event(organizer, quota=10)
    ids = [ask(customer, event) for customer in customers[:4]]
    drain(event)
    [job] = [job for job in run_jobs() if job.name != "drain_event"]
    assert job.name == "prepare_checkouts" and sorted(job.kwargs["booking_ids"]) == sorted(map(str, ids))


def test_a_checkout_made_twice_is_the_same_checkout(db, organizer, make_event, customers, use_stripe):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    first = payment_of(db, booking_id)
    assert checkouts.prepare_checkouts(db, [str(booking_id)]) == [str(booking_id)]
    assert checkouts.ensure_checkout(db, booking_id).checkout_session_id == first.checkout_session_id
    assert len(use_stripe.requests_to("POST", "/v1/checkout/sessions")) == 1
    assert payment_of(db, booking_id).id == first.id


def test_local_checkout_ends_with_the_hold(db, organizer, make_event, customers):
    event = make_event(organizer, hold_seconds=600)
    [booking_id] = hold(customers[:1], event)
    payment = payment_of(db, booking_id)
    token = payment.checkout_url.rsplit("/", 1)[1]
    session = payment_provider("local").checkout_page(payment.checkout_session_id, token)
    expected = load(db, booking_id).hold_expires_at
    assert abs(dt.datetime.fromtimestamp(session["expires_at"], dt.UTC) - expected) < dt.timedelta(seconds=1)
    assert expected > utcnow()


def _text(received) -> str:
    """The plain-text body with its lines joined, as a person reads it."""
    return " ".join(received.message.get_body(("plain",)).get_content().split())


def test_the_promotion_email_carries_the_checkout_link(db, organizer, make_event, customers, mail_sink):
    from core.services import bookings

    event = make_event(organizer, quota=1)
    [holder] = hold(customers[:1], event)
    waiter = ask(customers[1], event, join_waitlist=True)
    drain(event)
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customers[0], holder)
        uow.commit()
    jobs = run_jobs("prepare_checkouts", "send_booking_emails")

    assert Job("send_booking_emails", {"kind": "waitlist_promoted", "booking_ids": [str(waiter)]}) in jobs
    [mail] = mail_sink.wait_for(1)
    assert mail.rcpt_tos == (customers[1].email,)
    assert payment_of(db, waiter).checkout_url in _text(mail)


def test_refund_and_cancellation_emails_say_how_much_comes_back(
    db, organizer, make_event, customers, mail_sink
):
    from core.services import bookings, events

    event = make_event(organizer, quota=5, price=1250)
    refunded, cancelled_paid = hold(customers[:2], event, quantity=2)
    [single] = hold(customers[2:3], event, quantity=1)
    for booking_id in (refunded, cancelled_paid, single):
        pay_on_local_page(db, booking_id)
    run_jobs("process_webhook_event")
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, organizer, refunded)
        uow.commit()
    run_jobs("issue_refunds", "send_booking_emails")
    with db.unit_of_work() as uow:
        events.cancel_event(uow, organizer, event.id)
        uow.commit()
    event_cancellation.settle_cancelled_event(db, event.id)
    run_jobs("issue_refunds", "send_booking_emails", "expire_checkouts")

    by_address = {mail.rcpt_tos[0]: _text(mail) for mail in mail_sink.wait_for(3)}
    assert "The organizer of Night at the Opera has refunded your booking" in by_address[customers[0].email]
    assert "We have refunded EUR 25.00" in by_address[customers[0].email]
    assert "has cancelled Night at the Opera" in by_address[customers[1].email]
    assert "We have refunded EUR 25.00" in by_address[customers[1].email]
    assert "We have refunded EUR 12.50" in by_address[customers[2].email]


def test_a_checkout_job_retries_only_the_bookings_the_provider_failed(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer, quota=5)
    ids = [ask(customer, event) for customer in customers[:3]]
    drain(event)
    use_stripe.fail_next("/v1/checkout/sessions", status=500)  # the first booking's call fails once
    run_jobs("prepare_checkouts")

    calls = use_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert [call.status for call in calls] == [500, 200, 200, 200]
    assert calls[0].idempotency_key == calls[3].idempotency_key  # the retry, for that booking alone
    assert all(payment_of(db, booking_id).checkout_url for booking_id in ids)


def test_a_webhook_whose_session_cannot_be_read_yet_is_retried(
    db, client, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    body, headers = signed(use_stripe.complete_session(payment_of(db, booking_id).checkout_session_id))
    client.post("/api/v1/payments/stripe/webhook", data=body, headers=headers)
    use_stripe.fail_next("/v1/checkout/sessions/", status=429)
    run_jobs("process_webhook_event")
    assert load(db, booking_id).status == "confirmed"
    assert [r.status for r in use_stripe.requests if r.method == "GET"] == [429, 200]
