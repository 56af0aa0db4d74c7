"""Refunds: who may cancel a confirmed booking and when, a provider that fails and is retried,
and a cancelled event whose many bookings are settled across interruptions, each refunded once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from core.errors import Conflict
from core.models import Booking, Payment, Refund, utcnow
from core.services import event_cancellation, events, refunds
from tests.integration.booking_helpers import ask, assert_counters_agree, drain, load, statuses
from tests.integration.payment_helpers import (
    cancel,
    confirm_paid,
    hold,
    money_moved,
    payment_of,
    refunds_of,
    sweep_payments,
)
from tests.jobs import Job, run_job, run_jobs, take_jobs

# How many `customers` (tests/conftest.py) each test of this module gets.
CUSTOMERS = 32


def test_a_customer_cancelling_within_the_refund_period_is_refunded_and_the_waitlist_served(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer, quota=1, refund_until=utcnow() + dt.timedelta(days=7))
    [booking_id] = hold(customers[:1], event)
    confirm_paid(db, use_stripe, [booking_id])
    waiter = ask(customers[1], event, join_waitlist=True)
    drain(event)

    cancelled = cancel(db, customers[0], booking_id)
    assert (cancelled.status, cancelled.reason) == ("cancelled", "customer_cancelled")
    assert load(db, waiter).status == "held"
    jobs = run_jobs("issue_refunds")

    [refund] = refunds_of(db, booking_id)
    assert (refund.status, refund.attempts, refund.amount) == ("succeeded", 1, 2500)
    assert payment_of(db, booking_id).status == "refunded"
    assert money_moved(use_stripe) == {payment_of(db, booking_id).payment_intent_id: 1}
    assert Job("send_booking_emails", {"booking_ids": [str(booking_id)], "kind": "booking_refunded"}) in jobs
    assert Job("prepare_checkouts", {"booking_ids": [str(waiter)], "notify": "waitlist_promoted"}) in jobs
    counts = assert_counters_agree(db, event)
    assert (counts["held"], counts["sold"]) == (1, 0)


@pytest.mark.parametrize("refund_until", [dt.timedelta(seconds=-1), None])
def test_a_customer_cannot_cancel_a_paid_booking_outside_the_refund_period(
    db, organizer, make_event, customers, use_stripe, refund_until
):
    event = make_event(organizer, refund_until=refund_until and utcnow() + refund_until)
    [booking_id] = hold(customers[:1], event)
    confirm_paid(db, use_stripe, [booking_id])
    with pytest.raises(Conflict) as refused:
        cancel(db, customers[0], booking_id)
    assert refused.value.name == "refund_window_closed"
    assert load(db, booking_id).status == "confirmed" and refunds_of(db, booking_id) == []
    assert assert_counters_agree(db, event)["sold"] == 1


def test_an_organizer_can_refund_after_the_refund_period(db, organizer, make_event, customers, use_stripe):
    event = make_event(organizer, refund_until=utcnow() - dt.timedelta(days=1))
    [booking_id] = hold(customers[:1], event)
    confirm_paid(db, use_stripe, [booking_id])
    assert cancel(db, organizer, booking_id).reason == "organizer_refunded"
    run_jobs("issue_refunds")
    assert [r.status for r in refunds_of(db, booking_id)] == ["succeeded"]


def test_another_customer_cannot_cancel_a_paid_booking(db, organizer, make_event, customers, use_stripe):
    event = make_event(organizer, refund_until=utcnow() + dt.timedelta(days=7))
    [booking_id] = hold(customers[:1], event)
    confirm_paid(db, use_stripe, [booking_id])
    with pytest.raises(Exception) as refused:
        cancel(db, customers[1], booking_id)
    assert refused.value.status_code == 404
    assert load(db, booking_id).status == "confirmed" and refunds_of(db, booking_id) == []


def test_a_refund_the_provider_fails_is_retried_with_the_same_key_and_moves_money_once(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    confirm_paid(db, use_stripe, [booking_id])
    cancel(db, organizer, booking_id)
    use_stripe.fail_next("/v1/refunds", status=500, times=2)

    [job] = [job for job in take_jobs() if job.name == "issue_refunds"]
    run_job(job)  # fails twice, retried by the task, then succeeds

    [refund] = refunds_of(db, booking_id)
    assert (refund.status, refund.attempts, refund.last_error) == ("succeeded", 3, None)
    calls = use_stripe.requests_to("POST", "/v1/refunds")
    assert [c.status for c in calls] == [500, 500, 200]
    assert {c.idempotency_key for c in calls} == {refund.idempotency_key}
    assert money_moved(use_stripe) == {payment_of(db, booking_id).payment_intent_id: 1}


def test_a_refund_the_provider_refuses_is_marked_failed_with_its_reason(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    confirm_paid(db, use_stripe, [booking_id])
    cancel(db, organizer, booking_id)
    use_stripe.fail_next("/v1/refunds", status=400)
    jobs = run_jobs("issue_refunds")

    [refund] = refunds_of(db, booking_id)
    assert refund.status == "failed" and refund.attempts == 1 and "400" in refund.last_error
    assert payment_of(db, booking_id).status == "paid"
    assert "send_booking_emails" not in [job.name for job in jobs]
    assert refunds.issue_refunds(db, [str(refund.id)]) == []  # a failed refund is not tried again on its own


def test_a_refund_whose_retries_ran_out_is_picked_up_by_the_sweep(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer)
    [booking_id] = hold(customers[:1], event)
    confirm_paid(db, use_stripe, [booking_id])
    cancel(db, organizer, booking_id)
    use_stripe.fail_next("/v1/refunds", status=503, times=11)  # the first try and all ten retries
    with pytest.raises(Exception, match="retry"):
        run_jobs("issue_refunds")
    [refund] = refunds_of(db, booking_id)
    assert refund.status == "pending" and refund.attempts == 11

    assert sweep_payments(db, utcnow() + dt.timedelta(minutes=5))["refunds"] == 0  # too soon
    assert sweep_payments(db, utcnow() + dt.timedelta(minutes=20))["refunds"] == 1
    run_jobs("issue_refunds")
    [refund] = refunds_of(db, booking_id)
    assert refund.status == "succeeded"
    assert money_moved(use_stripe) == {payment_of(db, booking_id).payment_intent_id: 1}


def test_cancelling_an_event_settles_every_booking_across_interruptions_and_refunds_each_once(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer, quota=28)
    paid = hold(customers[:25], event)
    confirm_paid(db, use_stripe, paid)
    held = hold(customers[25:28], event)
    waiting = [ask(customer, event, join_waitlist=True) for customer in customers[28:30]]
    drain(event)
    queued = ask(customers[30], event)  # accepted before the cancellation, not yet decided
    take_jobs()

    with db.unit_of_work() as uow:
        events.cancel_event(uow, organizer, event.id)
        uow.commit()
    assert take_jobs() == [Job("settle_cancelled_event", {"event_id": str(event.id)})]

    # The first run is interrupted after two chunks (a worker stopped, a restart).
    first = event_cancellation.settle_cancelled_event(db, event.id, chunk=4, max_chunks=2)
    assert (first.settled, first.done) == (8, False)
    use_stripe.fail_next("/v1/refunds", status=502)
    for job in take_jobs():
        if job.name == "issue_refunds":
            run_job(job)
            run_job(job)  # delivered twice

    # Resumed twice at once (the task was redelivered while a new run started).
    reports = []
    runners = [
        threading.Thread(
            target=lambda: reports.append(event_cancellation.settle_cancelled_event(db, event.id, chunk=4))
        )
        for _ in range(2)
    ]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    assert sum(r.settled for r in reports) == 30 - 8 and all(r.done for r in reports)
    assert event_cancellation.settle_cancelled_event(db, event.id, chunk=4).settled == 0
    jobs = run_jobs("issue_refunds", "expire_checkouts")
    drain(event)

    outcome = statuses(db, event)
    assert {outcome[b] for b in paid + held + waiting} == {"cancelled"}
    assert (outcome[queued], load(db, queued).reason) == ("rejected", "event_cancelled")
    with db.unit_of_work() as uow:
        assert {
            b.reason for b in uow.session.scalars(select(Booking).where(Booking.status == "cancelled"))
        } == {"event_cancelled"}
        rows = uow.session.scalars(select(Refund)).all()
        intents = {
            p.id: p.payment_intent_id
            for p in uow.session.scalars(select(Payment).where(Payment.status == "refunded"))
        }
    assert len(rows) == 25 and {r.status for r in rows} == {"succeeded"} and len(intents) == 25
    assert money_moved(use_stripe) == dict.fromkeys(intents.values(), 1)
    assert all(use_stripe._refunded[intent] == 2500 for intent in intents.values())
    assert {use_stripe.sessions[payment_of(db, b).checkout_session_id]["status"] for b in held} == {"expired"}
    counts = assert_counters_agree(db, event)
    assert (counts["held"], counts["sold"]) == (0, 0)
    told = [
        b for job in jobs if job.kwargs.get("kind") == "event_cancelled" for b in job.kwargs["booking_ids"]
    ]
    assert sorted(told) == sorted(map(str, paid + held + waiting))  # the first chunks' emails were sent too


def test_the_sweep_resumes_a_cancelled_event_whose_jobs_were_lost(
    db, organizer, make_event, customers, use_stripe
):
    event = make_event(organizer, quota=10)
    paid = hold(customers[:6], event)
    confirm_paid(db, use_stripe, paid)
    with db.unit_of_work() as uow:
        events.cancel_event(uow, organizer, event.id)
        uow.commit()
    event_cancellation.settle_cancelled_event(db, event.id, chunk=2, max_chunks=1)
    take_jobs()  # lost: the settle job, the refund job of the first chunk

    swept = sweep_payments(db, utcnow() + dt.timedelta(minutes=20))
    assert (swept["cancelled_events"], swept["refunds"]) == (1, 2)
    run_jobs("settle_cancelled_event", "issue_refunds")
    assert set(statuses(db, event).values()) == {"cancelled"}
    assert sum(money_moved(use_stripe).values()) == 6
    assert sweep_payments(db, utcnow() + dt.timedelta(minutes=20)) == {
        "checkouts": 0, "refunds": 0, "events": 0, "cancelled_events": 0,
    }  # fmt: skip


def test_the_sweep_gives_a_checkout_to_a_hold_whose_job_was_lost(db, organizer, make_event, customers):
    event = make_event(organizer)
    booking_id = ask(customers[0], event)
    drain(event)
    take_jobs()  # the prepare_checkouts job is lost
    assert sweep_payments(db)["checkouts"] == 0  # a job sent a moment ago may still run
    assert sweep_payments(db, utcnow() + dt.timedelta(minutes=2))["checkouts"] == 1
    run_jobs("prepare_checkouts")
    assert payment_of(db, booking_id).checkout_url is not None
