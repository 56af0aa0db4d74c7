"""The Stripe stub itself answers as Stripe does, so tests built on it prove something."""

import time

import pytest
import requests

from tests.stripe_stub import TEST_SECRET_KEY, parse_form

AUTH = {"Authorization": f"Bearer {TEST_SECRET_KEY}"}
SESSION_FORM = {
    "mode": "payment",
    "line_items[0][quantity]": "2",
    "line_items[0][price_data][currency]": "eur",
    "line_items[0][price_data][unit_amount]": "2500",
    "line_items[0][price_data][product_data][name]": "Standing",
    "success_url": "https://boxoffice.example/paid",
}


def post(stub, path, form, key=None, headers=AUTH):
    extra = {"Idempotency-Key": key} if key else {}
    return requests.post(stub.url + path, data=form, headers=headers | extra, timeout=5)


def test_parse_form_builds_nested_dicts_and_lists():
    form = "a=1&b[c]=2&l[0][x]=3&l[1][x]=4&l[1][y][z]=5&empty="

    assert parse_form(form) == {
        "a": "1",
        "b": {"c": "2"},
        "l": [{"x": "3"}, {"x": "4", "y": {"z": "5"}}],
        "empty": "",
    }


def test_missing_required_param_is_a_stripe_shaped_400(stripe_stub):
    form = {k: v for k, v in SESSION_FORM.items() if k != "mode"}

    response = post(stripe_stub, "/v1/checkout/sessions", form)

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "parameter_missing",
            "message": "Missing required param: mode.",
            "param": "mode",
        }
    }
    assert response.headers["Request-Id"].startswith("req_")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("line_items[0][price_data][unit_amount]", "-5"),
        ("line_items[0][quantity]", "0"),
        ("expires_at", str(int(time.time()) + 60)),
        ("expires_at", str(int(time.time()) + 25 * 3600)),
        ("success_url", "not a url"),
    ],
)
def test_invalid_session_params_are_refused(stripe_stub, field, value):
    response = post(stripe_stub, "/v1/checkout/sessions", SESSION_FORM | {field: value})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == field
    assert stripe_stub.sessions == {}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk_live_123"}, {"Authorization": "Basic abc"}],
)
def test_requests_without_a_test_key_are_unauthorized(stripe_stub, headers):
    response = post(stripe_stub, "/v1/checkout/sessions", SESSION_FORM, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_idempotency_key_is_bound_to_its_endpoint(stripe_stub):
    post(stripe_stub, "/v1/checkout/sessions", SESSION_FORM, key="k1")

    response = post(stripe_stub, "/v1/refunds", {"payment_intent": "pi_x"}, key="k1")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"


def test_rejected_parameters_leave_the_key_free_for_a_corrected_request(stripe_stub):
    bad = post(stripe_stub, "/v1/checkout/sessions", {"mode": "payment"}, key="k1")
    good = post(stripe_stub, "/v1/checkout/sessions", SESSION_FORM, key="k1")

    assert (bad.status_code, good.status_code) == (400, 200)
    assert "Idempotent-Replayed" not in good.headers


def test_fail_next_fails_only_as_often_as_asked(stripe_stub):
    stripe_stub.fail_next("/v1/checkout/sessions", status=503, times=2)

    statuses = [
        post(stripe_stub, "/v1/checkout/sessions", SESSION_FORM, key="k1").status_code for _ in range(3)
    ]

    assert statuses == [503, 503, 200]
    assert [r.idempotency_key for r in stripe_stub.requests] == ["k1", "k1", "k1"]


def test_completed_session_has_a_retrievable_payment_intent(stripe_stub):
    session = post(stripe_stub, "/v1/checkout/sessions", SESSION_FORM).json()

    event = stripe_stub.complete_session(session["id"])

    intent_id = event["data"]["object"]["payment_intent"]
    intent = requests.get(f"{stripe_stub.url}/v1/payment_intents/{intent_id}", headers=AUTH, timeout=5)
    assert intent.json()["object"] == "payment_intent"
    assert (intent.json()["status"], intent.json()["amount"]) == ("succeeded", 5000)
    assert event["id"].startswith("evt_")
    assert event["data"]["object"]["url"] is None


def test_expired_session_cannot_be_expired_again(stripe_stub):
    session = post(stripe_stub, "/v1/checkout/sessions", SESSION_FORM).json()
    event = stripe_stub.expire_session(session["id"])

    response = post(stripe_stub, f"/v1/checkout/sessions/{session['id']}/expire", {})

    assert event["type"] == "checkout.session.expired"
    assert response.status_code == 400
    assert 'status of "expired"' in response.json()["error"]["message"]


def test_full_refund_then_any_refund_is_already_refunded(stripe_stub):
    session = post(stripe_stub, "/v1/checkout/sessions", SESSION_FORM).json()
    intent_id = stripe_stub.complete_session(session["id"])["data"]["object"]["payment_intent"]

    full = post(stripe_stub, "/v1/refunds", {"payment_intent": intent_id})
    more = post(stripe_stub, "/v1/refunds", {"payment_intent": intent_id, "amount": "1"})

    assert (full.status_code, full.json()["amount"]) == (200, 5000)
    assert full.json()["id"].startswith("re_")
    assert (more.status_code, more.json()["error"]["code"]) == (
        400,
        "charge_already_refunded",
    )
