"""The one retry loop of the payment jobs: every id is tried, only the retryable failures are
asked for again, and a refusal is left as it is."""

from __future__ import annotations

import pytest

from core.payments.provider import PaymentProviderError, ProviderCallsFailed, for_each_retrying

OUTAGE = PaymentProviderError("Stripe answered 503", retryable=True, http_status=503)
REFUSAL = PaymentProviderError("Stripe answered 400", retryable=False, http_status=400)


def step_failing(failures: dict, tried: list):
    def step(item):
        tried.append(item)
        if item in failures:
            raise failures[item]
        return str(item).upper()

    return step


def test_every_item_is_tried_and_only_the_retryable_failures_are_asked_for_again():
    tried: list[str] = []
    with pytest.raises(ProviderCallsFailed) as failed:
        for_each_retrying(["a", "b", "c", "d"], step_failing({"a": OUTAGE, "c": REFUSAL, "d": OUTAGE}, tried))
    assert tried == ["a", "b", "c", "d"]
    assert failed.value.ids == ["a", "d"] and failed.value.retryable
    assert failed.value.http_status == 503


def test_a_refusal_alone_is_not_retried_and_the_rest_is_returned():
    results = for_each_retrying(["a", "b"], step_failing({"a": REFUSAL}, []))
    assert results == ["B"]


def test_the_ids_to_retry_are_taken_from_the_items():
    payments = [("payment-1", "booking-1"), ("payment-2", "booking-2")]
    step = step_failing({("payment-2", "booking-2"): OUTAGE}, [])
    with pytest.raises(ProviderCallsFailed) as failed:
        for_each_retrying(payments, step, retry_id=lambda payment: payment[1])
    assert failed.value.ids == ["booking-2"]
