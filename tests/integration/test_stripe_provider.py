"""StripeProvider against the local Stripe stub: what it sends, what it reads back, and how each
failure reaches the calling task."""

from datetime import UTC, datetime, timedelta

import pytest

from core.payments.provider import CheckoutLine, CheckoutRequest, PaymentProviderError
from core.payments.stripe_provider import StripeProvider
from tests.stripe_stub import TEST_SECRET_KEY, unused_port

BOOKING_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
SESSIONS = "/v1/checkout/sessions"


@pytest.fixture
def provider(stripe_stub):
    return StripeProvider(TEST_SECRET_KEY, stripe_stub.url)


def checkout_request(hold=timedelta(minutes=10), **overrides):
    fields = {
        "booking_id": BOOKING_ID,
        "customer_email": "ada@example.org",
        "lines": [CheckoutLine("Standing", 2500, 2), CheckoutLine("Balcony", 4000, 1)],
        "currency": "EUR",
        "expires_at": datetime.now(UTC) + hold,
        "success_url": "https://boxoffice.example/bookings/b/paid",
        "cancel_url": "https://boxoffice.example/bookings/b",
        "idempotency_key": f"checkout:{BOOKING_ID}",
    }
    return CheckoutRequest(**(fields | overrides))


def paid_payment_intent(provider, stripe_stub):
    checkout = provider.create_checkout(checkout_request())
    stripe_stub.complete_session(checkout.session_id)
    return stripe_stub.sessions[checkout.session_id]["payment_intent"]


def test_create_checkout_sends_the_booking_as_a_payment_session(provider, stripe_stub):
    checkout = provider.create_checkout(checkout_request())

    [sent] = stripe_stub.requests_to("POST", SESSIONS)
    assert sent.idempotency_key == f"checkout:{BOOKING_ID}"
    params = dict(sent.params)
    params.pop("expires_at")
    assert params == {
        "mode": "payment",
        "line_items": [
            {
                "quantity": "2",
                "price_data": {
                    "currency": "eur",
                    "unit_amount": "2500",
                    "product_data": {"name": "Standing"},
                },
            },
            {
                "quantity": "1",
                "price_data": {
                    "currency": "eur",
                    "unit_amount": "4000",
                    "product_data": {"name": "Balcony"},
                },
            },
        ],
        "customer_email": "ada@example.org",
        "client_reference_id": BOOKING_ID,
        "metadata": {"booking_id": BOOKING_ID},
        "payment_intent_data": {"metadata": {"booking_id": BOOKING_ID}},
        "success_url": "https://boxoffice.example/bookings/b/paid",
        "cancel_url": "https://boxoffice.example/bookings/b",
    }
    assert checkout.session_id.startswith("cs_test_")
    assert checkout.url.endswith(checkout.session_id)
    assert checkout.status == "open"
    assert checkout.payment_intent_id is None
    assert stripe_stub.sessions[checkout.session_id]["amount_total"] == 9000


def test_short_hold_gives_the_stripe_session_thirty_minutes_past_the_hold(provider, stripe_stub):
    req = checkout_request(hold=timedelta(minutes=10))

    checkout = provider.create_checkout(req)

    [sent] = stripe_stub.requests_to("POST", SESSIONS)
    expected = int((req.expires_at + timedelta(minutes=30)).timestamp())
    assert int(sent.params["expires_at"]) == expected
    assert checkout.expires_at == datetime.fromtimestamp(expected, UTC)


def test_long_hold_ends_the_stripe_session_with_the_hold(provider, stripe_stub):
    req = checkout_request(hold=timedelta(hours=2))

    checkout = provider.create_checkout(req)

    [sent] = stripe_stub.requests_to("POST", SESSIONS)
    assert int(sent.params["expires_at"]) == int(req.expires_at.timestamp())
    assert checkout.expires_at == datetime.fromtimestamp(int(req.expires_at.timestamp()), UTC)


def test_hold_longer_than_a_day_is_capped_at_stripes_limit(provider, stripe_stub):
    before = datetime.now(UTC)

    provider.create_checkout(checkout_request(hold=timedelta(days=3)))

    [sent] = stripe_stub.requests_to("POST", SESSIONS)
    latest = int((before + timedelta(hours=24)).timestamp())
    assert latest - 120 <= int(sent.params["expires_at"]) <= latest


def test_hold_already_over_is_refused_without_calling_stripe(provider, stripe_stub):
    with pytest.raises(PaymentProviderError) as caught:
        provider.create_checkout(checkout_request(hold=timedelta(seconds=-1)))

    assert caught.value.retryable is False
    assert caught.value.code == "hold_expired"
    assert stripe_stub.requests == []


def test_retry_later_with_the_same_key_replays_the_same_session(stripe_stub):
    # A task retried minutes after its first attempt (whose answer was lost) must get the same
    # session back, so the parameters have to be the same as the first time.
    req = checkout_request()
    first = StripeProvider(TEST_SECRET_KEY, stripe_stub.url).create_checkout(req)
    later = StripeProvider(
        TEST_SECRET_KEY,
        stripe_stub.url,
        clock=lambda: datetime.now(UTC) + timedelta(minutes=3),
    )

    again = later.create_checkout(req)

    assert again == first
    assert [r.replayed for r in stripe_stub.requests_to("POST", SESSIONS)] == [
        False,
        True,
    ]
    assert len(stripe_stub.sessions) == 1


def test_same_key_for_a_different_checkout_is_refused(provider, stripe_stub):
    provider.create_checkout(checkout_request())

    with pytest.raises(PaymentProviderError) as caught:
        provider.create_checkout(checkout_request(customer_email="grace@example.org"))

    assert caught.value.retryable is False
    assert caught.value.http_status == 400
    assert len(stripe_stub.sessions) == 1


def test_retrieve_session_reads_state_amount_and_booking(provider, stripe_stub):
    checkout = provider.create_checkout(checkout_request())

    state = provider.retrieve_session(checkout.session_id)

    assert state.session_id == checkout.session_id
    assert (state.status, state.payment_status) == ("open", "unpaid")
    assert (state.amount_total, state.currency) == (9000, "eur")
    assert state.booking_id == BOOKING_ID
    assert state.payment_intent_id is None


def test_retrieve_session_after_payment_shows_the_payment_intent(provider, stripe_stub):
    checkout = provider.create_checkout(checkout_request())
    event = stripe_stub.complete_session(checkout.session_id)

    state = provider.retrieve_session(checkout.session_id)

    assert (state.status, state.payment_status) == ("complete", "paid")
    assert state.payment_intent_id.startswith("pi_")
    assert event["type"] == "checkout.session.completed"
    assert event["data"]["object"]["payment_intent"] == state.payment_intent_id


def test_retrieve_unknown_session_is_not_retryable(provider):
    with pytest.raises(PaymentProviderError) as caught:
        provider.retrieve_session("cs_test_missing")

    assert caught.value.retryable is False
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")


def test_expire_checkout_closes_the_session(provider, stripe_stub):
    checkout = provider.create_checkout(checkout_request())

    state = provider.expire_checkout(checkout.session_id, f"expire:{BOOKING_ID}")

    assert state.status == "expired"
    assert stripe_stub.sessions[checkout.session_id]["status"] == "expired"
    [sent] = stripe_stub.requests_to("POST", f"{SESSIONS}/{checkout.session_id}/expire")
    assert sent.idempotency_key == f"expire:{BOOKING_ID}"


@pytest.mark.parametrize("second_key", ["expire:1", "expire:2"])
def test_expiring_twice_reports_the_session_expired(provider, stripe_stub, second_key):
    checkout = provider.create_checkout(checkout_request())
    provider.expire_checkout(checkout.session_id, "expire:1")

    state = provider.expire_checkout(checkout.session_id, second_key)

    assert state.status == "expired"


def test_expiring_after_the_customer_paid_reports_the_payment(provider, stripe_stub):
    checkout = provider.create_checkout(checkout_request())
    stripe_stub.complete_session(checkout.session_id)

    state = provider.expire_checkout(checkout.session_id, "expire:1")

    assert (state.status, state.payment_status) == ("complete", "paid")
    assert state.payment_intent_id.startswith("pi_")


def test_expiring_an_unknown_session_is_not_retryable(provider):
    with pytest.raises(PaymentProviderError) as caught:
        provider.expire_checkout("cs_test_missing", "expire:1")

    assert (caught.value.retryable, caught.value.http_status) == (False, 404)


def test_refund_gives_back_the_whole_payment(provider, stripe_stub):
    intent = paid_payment_intent(provider, stripe_stub)

    result = provider.refund(intent, 9000, f"refund:{BOOKING_ID}", "requested_by_customer")

    assert result.refund_id.startswith("re_")
    assert (result.status, result.amount) == ("succeeded", 9000)
    [sent] = stripe_stub.requests_to("POST", "/v1/refunds")
    assert sent.params == {
        "payment_intent": intent,
        "amount": "9000",
        "reason": "requested_by_customer",
    }
    assert sent.idempotency_key == f"refund:{BOOKING_ID}"


def test_refund_retried_with_the_same_key_refunds_once(provider, stripe_stub):
    intent = paid_payment_intent(provider, stripe_stub)

    first = provider.refund(intent, 9000, "refund:1")
    again = provider.refund(intent, 9000, "refund:1")

    assert again == first
    assert len(stripe_stub.refunds) == 1


def test_refund_of_more_than_was_paid_is_not_retryable(provider, stripe_stub):
    intent = paid_payment_intent(provider, stripe_stub)

    with pytest.raises(PaymentProviderError) as caught:
        provider.refund(intent, 9001, "refund:1")

    assert caught.value.retryable is False
    assert (caught.value.http_status, caught.value.code) == (400, "amount_too_large")
    assert stripe_stub.refunds == {}


def test_refund_waiting_on_the_bank_is_pending(provider, stripe_stub):
    intent = paid_payment_intent(provider, stripe_stub)
    stripe_stub.refund_status = "requires_action"

    assert provider.refund(intent, 5000, "refund:1").status == "pending"


@pytest.mark.parametrize("status", [500, 502, 503, 429, 409])
def test_transient_stripe_failure_is_retryable_and_the_retry_succeeds(provider, stripe_stub, status):
    stripe_stub.fail_next(SESSIONS, status=status)
    req = checkout_request()

    with pytest.raises(PaymentProviderError) as caught:
        provider.create_checkout(req)

    assert caught.value.retryable is True
    assert caught.value.http_status == status
    # The SDK did not retry on its own: the calling task owns retries.
    assert len(stripe_stub.requests) == 1
    assert provider.create_checkout(req).status == "open"


def test_refused_connection_is_retryable():
    provider = StripeProvider(TEST_SECRET_KEY, f"http://127.0.0.1:{unused_port()}")

    with pytest.raises(PaymentProviderError) as caught:
        provider.retrieve_session("cs_test_any")

    assert caught.value.retryable is True
    assert caught.value.http_status is None
    assert "could not be reached" in caught.value.message


def test_wrong_api_key_is_not_retryable(stripe_stub):
    provider = StripeProvider("sk_live_not_for_tests", stripe_stub.url)

    with pytest.raises(PaymentProviderError) as caught:
        provider.retrieve_session("cs_test_any")

    assert (caught.value.retryable, caught.value.http_status) == (False, 401)


def test_request_stripe_refuses_is_not_retryable(provider, stripe_stub):
    with pytest.raises(PaymentProviderError) as caught:
        provider.create_checkout(checkout_request(customer_email="not-an-address"))

    assert caught.value.retryable is False
    assert (caught.value.http_status, caught.value.code) == (400, "email_invalid")
    assert stripe_stub.sessions == {}
