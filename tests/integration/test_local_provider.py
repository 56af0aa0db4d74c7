"""The local provider on the real Redis: idempotent like Stripe, ends with the hold, refunds at
most what was paid, and turns the page's buttons into provider events."""

from __future__ import annotations

import datetime as dt

import pytest

from core import runtime
from core.payments.local_provider import LocalProvider
from core.payments.provider import CheckoutLine, CheckoutRequest, PaymentProviderError

SECRET = "a-test-secret-of-some-length"


@pytest.fixture()
def provider(redis_client):
    return LocalProvider(runtime.redis_client(), "http://boxoffice.test", SECRET)


def token(checkout) -> str:
    return checkout.url.rsplit("/", 1)[1]


def request(hold=dt.timedelta(minutes=10), key="checkout:b1:1") -> CheckoutRequest:
    return CheckoutRequest(
        booking_id="b1", customer_email="ada@example.test", lines=[CheckoutLine("Standard", 2500, 2)],
        currency="EUR", expires_at=dt.datetime.now(dt.UTC) + hold, success_url="http://boxoffice.test/b",
        cancel_url="http://boxoffice.test/b", idempotency_key=key,
    )  # fmt: skip


def test_the_same_key_gives_the_same_checkout(provider):
    first = provider.create_checkout(request())
    assert provider.create_checkout(request()) == first
    assert provider.create_checkout(request(key="checkout:b1:2")).session_id != first.session_id
    assert first.url.startswith(f"http://boxoffice.test/api/v1/payments/local/{first.session_id}/")
    assert provider.retrieve_session(first.session_id).amount_total == 5000


def test_a_checkout_for_an_ended_hold_is_refused(provider):
    with pytest.raises(PaymentProviderError) as refused:
        provider.create_checkout(request(hold=dt.timedelta(seconds=-1)))
    assert (refused.value.code, refused.value.retryable) == ("hold_expired", False)


def test_a_session_past_its_end_cannot_be_paid(provider):
    checkout = provider.create_checkout(request(hold=dt.timedelta(seconds=1)))
    later = LocalProvider(runtime.redis_client(), "http://boxoffice.test", SECRET,
                          clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))  # fmt: skip
    with pytest.raises(PaymentProviderError):
        later.settle(checkout.session_id, token(checkout), "paid")
    assert provider.retrieve_session(checkout.session_id).status == "expired"


def test_paying_twice_is_one_payment_and_one_event(provider):
    checkout = provider.create_checkout(request())
    event = provider.settle(checkout.session_id, token(checkout), "paid")
    assert provider.settle(checkout.session_id, token(checkout), "paid") == event
    assert event["type"] == "checkout.session.completed"
    state = provider.retrieve_session(checkout.session_id)
    assert (state.status, state.payment_status) == ("complete", "paid")
    with pytest.raises(PaymentProviderError):
        provider.settle(checkout.session_id, token(checkout), "cancelled")
    assert provider.expire_checkout(checkout.session_id, "k").status == "complete"


def test_the_page_answers_only_its_own_token(provider):
    checkout, other = provider.create_checkout(request()), provider.create_checkout(request(key="k2"))
    assert provider.session(checkout.session_id, token(checkout))["status"] == "open"
    another_secret = LocalProvider(runtime.redis_client(), "http://boxoffice.test", "another-secret")
    for forged in (token(other), "", another_secret.page_url(checkout.session_id).rsplit("/", 1)[1]):
        with pytest.raises(PaymentProviderError) as shown:
            provider.session(checkout.session_id, forged)
        with pytest.raises(PaymentProviderError) as settled:
            provider.settle(checkout.session_id, forged, "paid")
        assert shown.value.http_status == settled.value.http_status == 404
    assert provider.retrieve_session(checkout.session_id).status == "open"


def test_refunds_are_idempotent_and_never_exceed_the_payment(provider):
    checkout = provider.create_checkout(request())
    provider.settle(checkout.session_id, token(checkout), "paid")
    intent = provider.retrieve_session(checkout.session_id).payment_intent_id
    first = provider.refund(intent, 5000, "refund:p1")
    assert provider.refund(intent, 5000, "refund:p1") == first
    assert first.status == "succeeded"
    with pytest.raises(PaymentProviderError) as refused:
        provider.refund(intent, 1, "refund:p1-again")
    assert refused.value.code == "amount_too_large"
