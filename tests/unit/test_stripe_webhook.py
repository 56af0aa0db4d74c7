"""Webhook verification accepts exactly what Stripe signs and nothing else."""

import json
import time

import pytest
import stripe

from core.payments.stripe_provider import (
    WebhookVerificationError,
    verify_stripe_webhook,
)
from tests.stripe_stub import sign_webhook

SECRET = "whsec_test_boxoffice"
EVENT = {
    "id": "evt_1Abc",
    "object": "event",
    "type": "checkout.session.completed",
    "created": 1_700_000_000,
    "data": {
        "object": {
            "id": "cs_test_a1",
            "object": "checkout.session",
            "metadata": {"booking_id": "b-1"},
        }
    },
}
PAYLOAD = json.dumps(EVENT).encode()


def test_signature_matches_the_sdks_own_signer():
    ts = 1_700_000_000
    expected = stripe.WebhookSignature.generate_signature_header(PAYLOAD.decode(), SECRET, ts)
    assert sign_webhook(PAYLOAD, SECRET, ts) == expected


def test_valid_signature_returns_the_event_as_a_plain_dict():
    event = verify_stripe_webhook(PAYLOAD, sign_webhook(PAYLOAD, SECRET), SECRET)

    assert event == EVENT
    assert type(event) is dict
    assert type(event["data"]["object"]) is dict


def test_one_valid_signature_among_several_is_enough():
    # While a webhook secret is being rolled, Stripe signs with the old and the new one.
    ts = int(time.time())
    other = sign_webhook(PAYLOAD, "whsec_old", ts).split(",")[1]
    header = f"{sign_webhook(PAYLOAD, SECRET, ts)},{other}"

    assert verify_stripe_webhook(PAYLOAD, header, SECRET)["id"] == EVENT["id"]


def test_signature_with_another_secret_is_rejected():
    header = sign_webhook(PAYLOAD, "whsec_someone_else")

    with pytest.raises(WebhookVerificationError, match="signature rejected"):
        verify_stripe_webhook(PAYLOAD, header, SECRET)


def test_signature_older_than_the_tolerance_is_rejected():
    header = sign_webhook(PAYLOAD, SECRET, timestamp=int(time.time()) - 301)

    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_stripe_webhook(PAYLOAD, header, SECRET)


def test_signature_within_a_custom_tolerance_is_accepted():
    header = sign_webhook(PAYLOAD, SECRET, timestamp=int(time.time()) - 301)

    assert verify_stripe_webhook(PAYLOAD, header, SECRET, tolerance=600)["id"] == EVENT["id"]


def test_tampered_body_is_rejected():
    header = sign_webhook(PAYLOAD, SECRET)
    tampered = PAYLOAD.replace(b"b-1", b"b-2")

    with pytest.raises(WebhookVerificationError, match="signature rejected"):
        verify_stripe_webhook(tampered, header, SECRET)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "t=not-a-number,v1=abc",
        "v1=abc",
        f"t={int(time.time())}",
        f"t={int(time.time())},v0=abc",
    ],
)
def test_malformed_signature_header_is_rejected(header):
    with pytest.raises(WebhookVerificationError, match="signature rejected"):
        verify_stripe_webhook(PAYLOAD, header, SECRET)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not JSON"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (b'["a", "list"]', "not a Stripe event"),
        (b'{"id": "evt_1", "type": "x", "data": {"object": {}}}', "not a Stripe event"),
        (
            b'{"id": "evt_1", "object": "event", "type": "x", "data": {}}',
            "not a Stripe event",
        ),
    ],
)
def test_signed_body_that_is_not_an_event_is_rejected(body, reason):
    with pytest.raises(WebhookVerificationError, match=reason):
        verify_stripe_webhook(body, sign_webhook(body, SECRET), SECRET)


def test_tolerance_cannot_be_switched_off():
    with pytest.raises(ValueError, match="tolerance"):
        verify_stripe_webhook(PAYLOAD, sign_webhook(PAYLOAD, SECRET), SECRET, tolerance=0)
