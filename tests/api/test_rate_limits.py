"""Rate limits, on: who shares a bucket, what a refusal says, and that the limiter's headers
leave the booking's poll hint alone.

The suite's settings switch limits off, so each test here builds an app with them on.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from api.resources.bookings import MAX_RETRY_AFTER
from tests.api.test_bookings import body as booking_body
from tests.conftest import PASSWORD
from tests.faults import app_on
from tests.integration.booking_helpers import drain


@pytest.fixture()
def limited(settings, app):
    """`limited(**settings)`: a test client of an app with rate limits on."""
    with ExitStack() as apps:
        yield lambda **overrides: apps.enter_context(
            app_on(settings, app, rate_limits_enabled=True, **overrides)
        )


def at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def sign_in(client, email, password=PASSWORD, address="192.0.2.1", **kwargs):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password}, **at(address),
                       **kwargs)  # fmt: skip


def sign_up(client, email, address="192.0.2.1", **kwargs):
    return client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "s3cret-enough", "name": "Ada"},
        **at(address),
        **kwargs,
    )


# endpoint: (how to call it, its limit's setting, its answer to an address nobody has)
ANONYMOUS = {"login": (sign_in, "login_rate_limit", 401), "register": (sign_up, "register_rate_limit", 202)}


@pytest.mark.parametrize("endpoint", ANONYMOUS)
def test_a_callers_token_does_not_buy_a_fresh_budget(limited, make_user, auth_header, endpoint):
    send, setting, answer = ANONYMOUS[endpoint]
    client = limited(**{setting: "2 per minute"})
    token = auth_header(make_user())
    assert [send(client, f"user{n}@example.test").status_code for n in range(2)] == [answer, answer]
    with_token = send(client, "user9@example.test", headers=token)
    assert with_token.status_code == 429 and with_token.headers["Retry-After"]


@pytest.mark.parametrize("endpoint", ANONYMOUS)
def test_one_target_email_is_limited_whatever_the_address(limited, endpoint):
    send, setting, answer = ANONYMOUS[endpoint]
    client = limited(**{setting: "2 per minute"})
    statuses = [send(client, "ada@example.test", address=f"198.51.100.{n}").status_code for n in range(3)]
    assert statuses == [answer, answer, 429]
    assert send(client, "bob@example.test", address="198.51.100.9").status_code == answer


@pytest.mark.parametrize("endpoint", ANONYMOUS)
def test_a_hostile_email_is_refused_with_limits_on(limited, endpoint):
    send, _, _ = ANONYMOUS[endpoint]
    refused = send(limited(), "\ud800@example.test")
    assert refused.status_code == 422


def test_failed_logins_are_counted_per_account_whatever_the_address(limited, make_user):
    client = limited(login_failure_limit="3 per minute")
    ada, bob = make_user(), make_user()
    for _ in range(3):  # successes are not failures: they leave the budget whole
        assert sign_in(client, ada.email).status_code == 200
    failures = [
        sign_in(client, ada.email, "wrong guess", address=f"203.0.113.{n}").status_code for n in range(3)
    ]
    assert failures == [401, 401, 401]

    locked = sign_in(client, ada.email, address="203.0.113.99")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert sign_in(client, bob.email, address="203.0.113.99").status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(limited):
    client = limited(login_rate_limit="2 per minute")
    statuses = [
        sign_in(client, f"user{n}@example.test", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
        for n in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_forwarded_for_names_the_client_behind_a_trusted_proxy(limited):
    client = limited(login_rate_limit="2 per minute", trusted_proxies=1)

    def through_proxy(n, forwarded_for):
        return sign_in(client, f"user{n}@example.test", address="10.0.0.1",
                       headers={"X-Forwarded-For": forwarded_for}).status_code  # fmt: skip

    # The proxy appends the address it saw; what the client wrote before it is not believed.
    assert [through_proxy(n, f"192.0.2.{n}, 198.51.100.7") for n in range(3)] == [401, 401, 429]
    assert through_proxy(9, "198.51.100.8") == 401


def test_the_booking_poll_hint_survives_the_limiters_headers(limited, organizer, make_event, make_user,
                                                             auth_header):  # fmt: skip
    client = limited(booking_rate_limit="3 per hour")
    event = make_event(organizer)
    customer = {**auth_header(make_user()), "Idempotency-Key": "order-1"}

    accepted = client.post("/api/v1/bookings", json=booking_body(event), headers=customer)
    assert accepted.status_code == 202
    assert 1 <= int(accepted.headers["Retry-After"]) <= MAX_RETRY_AFTER
    assert accepted.headers["X-RateLimit-Limit"] == "3" and accepted.headers["X-RateLimit-Remaining"] == "2"

    drain(event)
    replayed = client.post("/api/v1/bookings", json=booking_body(event), headers=customer)
    assert replayed.json["status"] == "held" and replayed.headers["Retry-After"] == str(MAX_RETRY_AFTER)

    client.post("/api/v1/bookings", json=booking_body(event), headers=customer)
    refused = client.post("/api/v1/bookings", json=booking_body(event), headers=customer)
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["Retry-After"]) > MAX_RETRY_AFTER  # the limiter's window: the hour's rest


def test_answers_without_a_poll_hint_carry_no_retry_after(limited, make_user):
    client = limited()
    signed_in = sign_in(client, make_user().email)
    assert signed_in.status_code == 200 and signed_in.headers["X-RateLimit-Limit"]
    assert "Retry-After" not in signed_in.headers


# --- wrong voucher codes: per address and per event, wrong ones only -----------------------------


def look(client, event, code, address="192.0.2.1"):
    return client.get(f"/api/v1/events/{event.id}?voucher={code}", **at(address))


@pytest.fixture()
def coded_event(db, organizer, make_event):
    from tests.integration.voucher_helpers import make_voucher

    event = make_event(organizer)
    make_voucher(db, organizer, event, "RIGHT-CODE")
    return event


def assert_limited(answer):
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) >= 1


def test_wrong_voucher_codes_are_limited_per_address(limited, coded_event):
    client = limited(voucher_guess_limit="3 per minute")
    assert [look(client, coded_event, f"WRONG-{n}").status_code for n in range(3)] == [422] * 3
    assert_limited(look(client, coded_event, "WRONG-4"))
    # Refused whatever the code now, or a right one would stand out; the event itself stays open.
    assert_limited(look(client, coded_event, "RIGHT-CODE"))
    assert client.get(f"/api/v1/events/{coded_event.id}", **at("192.0.2.1")).status_code == 200
    # Another address has its own budget.
    assert look(client, coded_event, "RIGHT-CODE", address="192.0.2.2").status_code == 200
    assert look(client, coded_event, "WRONG-5", address="192.0.2.2").status_code == 422


def test_right_codes_cost_nothing(limited, coded_event):
    client = limited(voucher_guess_limit="2 per minute")
    assert [look(client, coded_event, "right-code").status_code for _ in range(5)] == [200] * 5
    assert [look(client, coded_event, f"WRONG-{n}").status_code for n in range(2)] == [422] * 2
    assert_limited(look(client, coded_event, "WRONG-3"))


def test_wrong_codes_count_across_the_event_page_and_the_booking(
    limited, coded_event, make_user, auth_header
):
    client = limited(voucher_guess_limit="3 per minute")
    customer = auth_header(make_user())
    guesses = [client.post("/api/v1/bookings", json=booking_body(coded_event, voucher_code=f"WRONG-{n}"),
                           headers=customer, **at("192.0.2.1")) for n in range(2)]  # fmt: skip
    assert [answer.status_code for answer in guesses] == [422, 422]
    assert look(client, coded_event, "WRONG-3").status_code == 422
    refused = client.post("/api/v1/bookings", json=booking_body(coded_event, voucher_code="RIGHT-CODE"),
                          headers=customer, **at("192.0.2.1"))  # fmt: skip
    assert_limited(refused)
    # A booking without a code is not a guess.
    plain = client.post(
        "/api/v1/bookings", json=booking_body(coded_event), headers=customer, **at("192.0.2.1")
    )
    assert plain.status_code == 202


def test_wrong_codes_are_limited_per_event_from_any_address(limited, coded_event, organizer, make_event):
    client = limited(voucher_guess_limit="100 per minute", voucher_guess_event_limit="3 per minute")
    addresses = [f"198.51.100.{n}" for n in range(1, 5)]
    assert [look(client, coded_event, f"WRONG-{n}", address).status_code
            for n, address in enumerate(addresses[:3])] == [422] * 3  # fmt: skip
    assert_limited(look(client, coded_event, "WRONG-9", addresses[3]))
    assert_limited(look(client, coded_event, "RIGHT-CODE", addresses[3]))
    # Another event's codes are not held up by this one's guessers.
    other = make_event(organizer)
    assert look(client, other, "WRONG-9", addresses[3]).status_code == 422
