"""Payments over HTTP: the checkout endpoint, the payment in the booking, the local checkout
page, cancelling and refunding, cancelling an event, and the organizer's lists."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

import pytest

from core.models import utcnow
from tests.integration.booking_helpers import ask, assert_counters_agree, drain, load
from tests.integration.payment_helpers import hold, payment_of, refunds_of, webhook_events
from tests.jobs import run_jobs, take_jobs


@pytest.fixture()
def customer(make_user):
    return make_user(email="ada@example.test")


@pytest.fixture()
def stranger(make_user):
    return make_user(email="mallory@example.test")


def held_booking(event, customer):
    [booking_id] = hold([customer], event, quantity=2)
    return booking_id


def page_path(db, booking_id) -> str:
    """The local checkout page as its customer reaches it: the path of the booking's checkout URL."""
    return urlsplit(payment_of(db, booking_id).checkout_url).path


def pay_on_local_page(client, db, booking_id):
    page = client.post(page_path(db, booking_id), data={"outcome": "paid"})
    run_jobs("process_webhook_event")
    return page


def test_the_customer_gets_the_checkout_and_the_same_one_again(
    client, db, organizer, make_event, customer, auth_header
):
    booking_id = held_booking(make_event(organizer), customer)
    first = client.post(f"/api/v1/bookings/{booking_id}/checkout", headers=auth_header(customer))
    assert first.status_code == 200
    payment = payment_of(db, booking_id)
    assert first.json["checkout_url"] == payment.checkout_url
    assert dt.datetime.fromisoformat(first.json["expires_at"]) <= load(db, booking_id).hold_expires_at
    again = client.post(f"/api/v1/bookings/{booking_id}/checkout", headers=auth_header(customer))
    assert again.json == first.json


def test_the_checkout_endpoint_makes_one_when_the_job_was_lost(
    client, db, organizer, make_event, customer, auth_header
):
    event = make_event(organizer)
    booking_id = ask(customer, event)
    drain(event)
    take_jobs()
    answer = client.post(f"/api/v1/bookings/{booking_id}/checkout", headers=auth_header(customer))
    assert (
        answer.status_code == 200 and answer.json["checkout_url"] == payment_of(db, booking_id).checkout_url
    )


def test_nobody_else_opens_a_customers_checkout(
    client, db, organizer, make_event, make_organization, make_user, customer, stranger, auth_header
):
    booking_id = held_booking(make_event(organizer), customer)
    url = f"/api/v1/bookings/{booking_id}/checkout"
    assert client.post(url, headers=auth_header(stranger)).status_code == 404
    refused = client.post(url, headers=auth_header(organizer))
    assert (refused.status_code, refused.json["errors"]["reason"]) == (403, "forbidden")
    other_organizer = make_user("organizer", make_organization("Rival Shows"))
    assert client.post(url, headers=auth_header(other_organizer)).status_code == 404
    assert client.post(url).status_code == 401
    assert (
        client.post(f"/api/v1/bookings/{organizer.id}/checkout", headers=auth_header(customer)).status_code
        == 404
    )


def test_a_booking_that_is_not_held_has_no_checkout(client, db, organizer, make_event, customer, auth_header):
    booking_id = held_booking(make_event(organizer), customer)
    pay_on_local_page(client, db, booking_id)
    answer = client.post(f"/api/v1/bookings/{booking_id}/checkout", headers=auth_header(customer))
    assert answer.status_code == 409 and answer.json["errors"]["reason"] == "not_held"


@pytest.mark.parametrize(
    ("provider_answer", "status", "reason"),
    [(503, 503, "provider_unavailable"), (400, 409, "provider_refused")],
)
def test_a_checkout_the_provider_cannot_make_names_why_and_leaves_no_checkout(
    client, db, organizer, make_event, customer, auth_header, use_stripe, provider_answer, status, reason
):
    event = make_event(organizer)
    booking_id = ask(customer, event)
    drain(event)
    take_jobs()
    use_stripe.fail_next("/v1/checkout/sessions", status=provider_answer)
    answer = client.post(f"/api/v1/bookings/{booking_id}/checkout", headers=auth_header(customer))
    assert (answer.status_code, answer.json["errors"]["reason"]) == (status, reason)
    assert payment_of(db, booking_id).checkout_session_id is None
    assert (
        client.post(f"/api/v1/bookings/{booking_id}/checkout", headers=auth_header(customer)).status_code
        == 200
    )


def test_the_booking_shows_its_payment(client, db, organizer, make_event, customer, auth_header):
    event = make_event(organizer)
    booking_id = ask(customer, event)
    url = f"/api/v1/bookings/{booking_id}"
    assert client.get(url, headers=auth_header(customer)).json["payment"] is None  # still queued
    drain(event)
    run_jobs("prepare_checkouts")
    held = client.get(url, headers=auth_header(customer)).json
    assert held["payment"] == {
        "provider": "local",
        "status": "pending",
        "checkout_url": payment_of(db, booking_id).checkout_url,
        "expires_at": held["payment"]["expires_at"],
    }
    assert dt.datetime.fromisoformat(held["payment"]["expires_at"]) <= dt.datetime.fromisoformat(
        held["hold_expires_at"]
    )

    pay_on_local_page(client, db, booking_id)
    confirmed = client.get(url, headers=auth_header(customer)).json
    assert confirmed["status"] == "confirmed"
    assert confirmed["payment"] == {
        "provider": "local",
        "status": "paid",
        "checkout_url": None,
        "expires_at": None,
    }


def test_the_local_checkout_page_shows_the_amount_and_paying_there_confirms(
    client, db, organizer, make_event, customer
):
    event = make_event(organizer, price=2500)
    booking_id = held_booking(event, customer)
    page = client.get(page_path(db, booking_id))
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "EUR 50.00" in html and "2 × Night at the Opera: Standard" in html
    assert 'value="paid"' in html and 'value="cancelled"' in html

    paid = client.post(page_path(db, booking_id), data={"outcome": "paid"})
    assert paid.status_code == 200 and "Payment received" in paid.get_data(as_text=True)
    assert load(db, booking_id).status == "held"  # the same path as a webhook: a task confirms it
    again = client.post(page_path(db, booking_id), data={"outcome": "paid"})
    assert again.status_code == 200
    run_jobs("process_webhook_event")
    assert load(db, booking_id).status == "confirmed"
    assert len(webhook_events(db)) == 1  # the second submission was a replay
    assert assert_counters_agree(db, event)["sold"] == 2


def test_giving_up_on_the_local_page_releases_the_hold(client, db, organizer, make_event, customer):
    event = make_event(organizer)
    booking_id = held_booking(event, customer)
    page = client.post(page_path(db, booking_id), data={"outcome": "cancelled"})
    assert page.status_code == 200 and "nothing was charged" in page.get_data(as_text=True)
    run_jobs("process_webhook_event")
    assert load(db, booking_id).status == "expired"
    assert assert_counters_agree(db, event)["held"] == 0
    closed = client.post(page_path(db, booking_id), data={"outcome": "paid"})
    assert closed.status_code == 409 and closed.json["errors"]["reason"] == "checkout_closed"


@pytest.mark.parametrize("form", [{"outcome": "stolen"}, {}, {"outcome": ""}])
def test_the_local_page_refuses_a_bad_outcome(client, db, organizer, make_event, customer, form):
    booking_id = held_booking(make_event(organizer), customer)
    answer = client.post(page_path(db, booking_id), data=form)
    assert answer.status_code == 422
    assert payment_of(db, booking_id).status == "pending" and webhook_events(db) == []


def test_an_unknown_local_checkout_is_a_404(client, db):
    assert client.get("/api/v1/payments/local/lcs_nope/token").status_code == 404
    assert client.post("/api/v1/payments/local/lcs_nope/token", data={"outcome": "paid"}).status_code == 404


@pytest.mark.parametrize("outcome", ["paid", "cancelled"])
def test_the_local_page_is_reached_only_through_the_customers_own_link(
    client, db, organizer, make_event, customer, stranger, auth_header, outcome
):
    """The session id is no secret (the organizer's payment list shows it): knowing it, or
    another checkout's token, neither shows the page nor pays nor ends the hold."""
    event = make_event(organizer)
    booking_id = held_booking(event, customer)
    other_path = page_path(db, held_booking(event, stranger))
    listed = client.get(f"/api/v1/events/{event.id}/payments", headers=auth_header(organizer))
    session_id = next(p["checkout_session_id"] for p in listed.json if p["booking_id"] == str(booking_id))
    own_token = page_path(db, booking_id).rsplit("/", 1)[1]
    forged = [
        f"/api/v1/payments/local/{session_id}",
        f"/api/v1/payments/local/{session_id}/{other_path.rsplit('/', 1)[1]}",
        f"/api/v1/payments/local/{session_id}/{own_token[:-1]}",
        f"/api/v1/payments/local/{session_id}/",
    ]
    for path in forged:
        assert client.get(path).status_code == 404, path
        assert client.post(path, data={"outcome": outcome}).status_code == 404, path
    run_jobs("process_webhook_event")
    assert webhook_events(db) == [] and payment_of(db, booking_id).status == "pending"
    assert load(db, booking_id).status == "held"
    assert client.post(page_path(db, booking_id), data={"outcome": outcome}).status_code == 200


def test_a_customer_cannot_cancel_someone_elses_booking(
    client, db, organizer, make_event, customer, stranger, auth_header
):
    booking_id = held_booking(make_event(organizer), customer)
    answer = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=auth_header(stranger))
    assert answer.status_code == 404
    assert load(db, booking_id).status == "held"


def test_cancelling_a_paid_booking_over_http(client, db, organizer, make_event, customer, auth_header):
    event = make_event(organizer, refund_until=utcnow() + dt.timedelta(days=1))
    booking_id = held_booking(event, customer)
    pay_on_local_page(client, db, booking_id)
    answer = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=auth_header(customer))
    assert answer.status_code == 200
    assert (answer.json["status"], answer.json["reason"]) == ("cancelled", "customer_cancelled")
    run_jobs("issue_refunds")
    [refund] = refunds_of(db, booking_id)
    assert (refund.status, refund.amount, refund.provider_refund_id[:4]) == ("succeeded", 5000, "lre_")
    refunded = client.get(f"/api/v1/bookings/{booking_id}", headers=auth_header(customer)).json
    assert refunded["payment"]["status"] == "refunded"


def test_cancelling_a_paid_booking_after_the_refund_period_is_a_409_with_the_reason(
    client, db, organizer, make_event, customer, auth_header
):
    event = make_event(organizer, refund_until=utcnow() - dt.timedelta(hours=1))
    booking_id = held_booking(event, customer)
    pay_on_local_page(client, db, booking_id)
    answer = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=auth_header(customer))
    assert answer.status_code == 409 and answer.json["errors"]["reason"] == "refund_window_closed"
    assert "refund_until" in answer.json["errors"]
    assert load(db, booking_id).status == "confirmed"


def test_only_its_organizers_cancel_an_event(client, db, organizer, make_event, customer, auth_header):
    event = make_event(organizer)
    booking_id = held_booking(event, customer)
    assert client.post(f"/api/v1/events/{event.id}/cancel", headers=auth_header(customer)).status_code == 403
    assert load(db, booking_id).status == "held"

    answer = client.post(f"/api/v1/events/{event.id}/cancel", headers=auth_header(organizer))
    assert answer.status_code == 200 and answer.json["status"] == "cancelled"
    run_jobs("settle_cancelled_event", "expire_checkouts")
    assert (load(db, booking_id).status, load(db, booking_id).reason) == ("cancelled", "event_cancelled")
    late = client.post(
        "/api/v1/bookings",
        json={
            "event_id": str(event.id),
            "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
        },
        headers=auth_header(customer),
    )
    assert late.status_code == 409 and late.json["errors"]["reason"] == "event_cancelled"
    assert client.post(f"/api/v1/events/{event.id}/cancel", headers=auth_header(organizer)).status_code == 200


def test_organizers_list_an_events_payments_and_refunds(
    client, db, organizer, make_event, make_user, customer, stranger, auth_header
):
    event = make_event(organizer)
    paid, refunded, _pending = (held_booking(event, c) for c in (customer, stranger, make_user()))
    for booking_id in (paid, refunded):
        pay_on_local_page(client, db, booking_id)
    client.post(f"/api/v1/bookings/{refunded}/cancel", headers=auth_header(organizer))
    run_jobs("issue_refunds")

    listed = client.get(f"/api/v1/events/{event.id}/payments?page_size=2", headers=auth_header(organizer))
    assert listed.status_code == 200 and len(listed.json) == 2
    assert json.loads(listed.headers["X-Pagination"])["total"] == 3
    statuses = client.get(
        f"/api/v1/events/{event.id}/payments?page_size=10", headers=auth_header(organizer)
    ).json
    assert sorted(p["status"] for p in statuses) == ["paid", "pending", "refunded"]
    only_paid = client.get(
        f"/api/v1/events/{event.id}/payments?status=paid", headers=auth_header(organizer)
    ).json
    assert [p["booking_id"] for p in only_paid] == [str(paid)]

    refunds = client.get(f"/api/v1/events/{event.id}/refunds", headers=auth_header(organizer)).json
    assert [(r["booking_id"], r["status"], r["reason"], r["attempts"]) for r in refunds] == [
        (str(refunded), "succeeded", "organizer_refunded", 1)
    ]
    assert (
        client.get(
            f"/api/v1/events/{event.id}/refunds?status=nope", headers=auth_header(organizer)
        ).status_code
        == 422
    )
    for path in ("payments", "refunds"):
        assert (
            client.get(f"/api/v1/events/{event.id}/{path}", headers=auth_header(customer)).status_code == 403
        )
