"""Provider calls never happen inside a database transaction.

The Stripe stub asks PostgreSQL, at every request it receives and while our code waits for the
answer, how many sessions of this run's test database have a transaction open. A whole life of
bookings — checkouts made by the job and by the API, payments confirmed, holds expired, refunds,
an event cancelled — runs under that watch.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from core import runtime
from core.models import Booking, utcnow
from core.payments import payment_provider
from core.services import bookings, events, holds
from tests.integration.booking_helpers import ask, drain, end_holds_now
from tests.integration.payment_helpers import hold, payment_of
from tests.jobs import run_jobs, take_jobs
from tests.payment_fixtures import signed


def test_no_provider_call_is_made_with_a_transaction_open(
    db, client, organizer, make_event, make_user, auth_header, use_stripe, transactions_during_provider_calls
):
    stub = use_stripe
    customers = [make_user(email=f"watched{i}@example.test") for i in range(5)]
    event = make_event(organizer, quota=10, refund_until=utcnow() + dt.timedelta(days=3))

    paid, refunded, expiring = hold(customers[:3], event)
    late = ask(customers[3], event)
    drain(event)
    take_jobs()  # its checkout job is lost: the customer asks the API instead
    assert (
        client.post(f"/api/v1/bookings/{late}/checkout", headers=auth_header(customers[3])).status_code == 200
    )

    for booking_id in (paid, refunded, late):
        body, headers = signed(stub.complete_session(payment_of(db, booking_id).checkout_session_id))
        assert client.post("/api/v1/payments/stripe/webhook", data=body, headers=headers).status_code == 200
    run_jobs("process_webhook_event")

    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customers[1], refunded)
        uow.commit()
    end_holds_now(db, [expiring])
    holds.expire_holds(runtime.database())
    run_jobs("issue_refunds", "expire_checkouts")

    with db.unit_of_work() as uow:
        events.cancel_event(uow, organizer, event.id)
        uow.commit()
    run_jobs("settle_cancelled_event", "issue_refunds", "expire_checkouts")

    with db.unit_of_work() as uow:
        assert set(uow.session.scalars(select(Booking.status))) == {"cancelled", "expired"}
    assert Counter(_kind(method, path) for method, path, _ in transactions_during_provider_calls) == {
        "create session": 4,  # three by the job, one through the API
        "retrieve session": 3,  # one per webhook, before acting on it
        "expire session": 1,  # the hold that ran out
        "refund": 3,  # the customer's cancellation, then the two paid bookings of the cancelled event
    }
    assert [seen for seen in transactions_during_provider_calls if seen[2]] == []


def _kind(method: str, path: str) -> str:
    if path == "/v1/refunds":
        return "refund"
    if path.endswith("/expire"):
        return "expire session"
    return "create session" if method == "POST" else "retrieve session"


def test_the_watch_sees_a_transaction_left_open_during_a_call(
    db, organizer, make_event, make_user, use_stripe, transactions_during_provider_calls
):
    """The check above can fail: a call made inside a unit of work is caught."""
    event = make_event(organizer)
    [booking_id] = hold([make_user()], event)
    session_id = payment_of(db, booking_id).checkout_session_id
    with db.unit_of_work() as uow:
        uow.session.get(Booking, booking_id)
        payment_provider("stripe").retrieve_session(session_id)
    assert transactions_during_provider_calls[-1] == ("GET", f"/v1/checkout/sessions/{session_id}", 1)
