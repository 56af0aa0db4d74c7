"""Getting back into an account: password reset and email verification by mailed code, password
change, and the answers that must not tell whether an address has an account.

Mails go through the real task and a real SMTP server (`mail_sink`); the codes used are the
ones read back from the received mails.
"""

from __future__ import annotations

import dataclasses
import re
import time

import pytest
from flask_jwt_extended import decode_token
from itsdangerous.timed import TimestampSigner

from api import create_app
from core import runtime
from tests.api.test_accounts import bearer, login, register
from tests.api.test_bookings import body as booking_body
from tests.conftest import PASSWORD
from tests.jobs import names, run_job, run_jobs, take_jobs

NEW_PASSWORD = "a brand new passphrase"


def mailed(sink, label: str, to: str, count: int = 1) -> str:
    """The code labelled `label` in the `count`-th mail received, which must be for `to`."""
    mail = sink.wait_for(count)[count - 1]
    assert mail.rcpt_tos == (to,)
    text = mail.message.get_body(("plain",)).get_content()
    return re.search(rf"{label}:\s+(\S+)", text).group(1)


def send_mails() -> list:
    return names(run_jobs("send_account_email"))


def ask_reset(client, email):
    return client.post("/api/v1/auth/password-reset", json={"email": email})


def confirm_reset(client, token, password=NEW_PASSWORD):
    return client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": password})


def reset_code(client, sink, user, count=1) -> str:
    assert ask_reset(client, user.email).status_code == 202
    assert send_mails() == ["send_account_email"]
    return mailed(sink, "Reset code", user.email, count)


def test_reset_by_mailed_code_sets_the_password_and_signs_out_every_session(client, mail_sink, make_user):
    user = make_user()
    sessions = [login(client, user.email, PASSWORD).json for _ in range(2)]

    code = reset_code(client, mail_sink, user)
    assert confirm_reset(client, code).status_code == 204

    for tokens in sessions:
        me = client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 401 and me.json["errors"]["reason"] == "token_revoked"
        assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert login(client, user.email, PASSWORD).status_code == 401
    assert login(client, user.email, NEW_PASSWORD).status_code == 200


def test_a_reset_code_works_once(client, mail_sink, make_user):
    user = make_user()
    code = reset_code(client, mail_sink, user)
    assert confirm_reset(client, code).status_code == 204

    again = confirm_reset(client, code, password="yet another passphrase")
    assert again.status_code == 400 and again.json["errors"]["reason"] == "link_used"
    assert login(client, user.email, NEW_PASSWORD).status_code == 200


def test_an_older_code_dies_when_a_newer_one_is_used(client, mail_sink, make_user):
    user = make_user()
    first = reset_code(client, mail_sink, user)
    second = reset_code(client, mail_sink, user, count=2)
    assert confirm_reset(client, second).status_code == 204
    assert confirm_reset(client, first).json["errors"]["reason"] == "link_used"


def test_an_expired_reset_code_is_refused_and_changes_nothing(client, mail_sink, make_user, monkeypatch):
    user = make_user()
    lifetime = runtime.settings().password_reset_seconds
    real_now = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - lifetime - 5)
    code = reset_code(client, mail_sink, user)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real_now)

    response = confirm_reset(client, code)
    assert response.status_code == 400 and response.json["errors"]["reason"] == "link_expired"
    assert login(client, user.email, PASSWORD).status_code == 200


def test_tampered_and_foreign_codes_are_refused_and_change_nothing(client, mail_sink, make_user):
    ada, bob = make_user(email="ada@example.test"), make_user(email="bob@example.test")
    ada_code = reset_code(client, mail_sink, ada)
    bob_code = reset_code(client, mail_sink, bob, count=2)
    # Bob's signature on Ada's account, a flipped character, a verification code, nonsense.
    # Ada's payload under Bob's timestamp and signature (a compressed payload starts with ".").
    grafted = ada_code.rsplit(".", 2)[0] + "." + ".".join(bob_code.rsplit(".", 2)[1:])
    flipped = ada_code[:5] + ("A" if ada_code[5] != "A" else "B") + ada_code[6:]
    client.post(
        "/api/v1/auth/register", json={"email": "cy@example.test", "password": "cy-password-1", "name": "Cy"}
    )
    send_mails()
    verification = mailed(mail_sink, "Verification code", "cy@example.test", count=3)
    for token in (grafted, flipped, verification, "not-a-token"):
        response = confirm_reset(client, token)
        assert response.status_code == 400 and response.json["errors"]["reason"] == "link_invalid", token
    assert login(client, ada.email, PASSWORD).status_code == 200

    # A genuine code changes its own account only.
    assert confirm_reset(client, bob_code).status_code == 204
    assert login(client, ada.email, PASSWORD).status_code == 200
    assert login(client, bob.email, NEW_PASSWORD).status_code == 200


def test_reset_of_a_common_password_is_refused_and_keeps_the_code_usable(client, mail_sink, make_user):
    user = make_user()
    code = reset_code(client, mail_sink, user)
    refused = confirm_reset(client, code, password="iloveyou")
    assert refused.status_code == 422 and refused.json["errors"]["reason"] == "common_password"
    assert confirm_reset(client, code).status_code == 204


def test_reset_answers_alike_for_known_and_unknown_addresses(client, mail_sink, make_user):
    user = make_user()
    known, unknown = ask_reset(client, user.email), ask_reset(client, "nobody@example.test")
    assert known.status_code == unknown.status_code == 202
    assert known.json == unknown.json
    # The same job either way; only the worker finds out, and mails the owner alone.
    jobs = take_jobs()
    assert [(job.name, job.kwargs["kind"]) for job in jobs] == [("send_account_email", "password_reset")] * 2
    for job in jobs:
        run_job(job)
    assert [mail.rcpt_tos for mail in mail_sink.received] == [(user.email,)]


def test_register_answers_alike_for_a_new_and_a_taken_address(client, mail_sink, db):
    new = register(client, email="ada@example.test")
    taken = register(client, email="ADA@example.test", password="someone-elses-pw", name="Mallory")
    assert new.status_code == taken.status_code == 202
    assert new.json == taken.json
    assert send_mails() == ["send_account_email"] * 2

    verification, attempt = mail_sink.wait_for(2)
    assert "Confirm your email address" in verification.message["Subject"]
    assert attempt.rcpt_tos == ("ada@example.test",)
    assert "Someone tried to register" in attempt.message["Subject"]
    # The first registration stands; the second changed nothing.
    assert login(client, "ada@example.test", "s3cret-enough").status_code == 200
    assert login(client, "ada@example.test", "someone-elses-pw").status_code == 401


def test_verification_by_mailed_code(client, mail_sink):
    register(client)
    send_mails()
    code = mailed(mail_sink, "Verification code", "ada@example.test")
    tokens = login(client).json
    assert decode_token_claims(client, tokens["access_token"])["email_verified"] is False

    verified = client.post("/api/v1/auth/verify-email", json={"token": code})
    assert verified.status_code == 200 and verified.json["email_verified"] is True
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).json
    assert decode_token_claims(client, refreshed["access_token"])["email_verified"] is True

    again = client.post("/api/v1/auth/verify-email", json={"token": code})
    assert again.status_code == 409 and again.json["errors"]["reason"] == "email_already_verified"
    resend = client.post("/api/v1/auth/verify-email/resend", headers=bearer(refreshed["access_token"]))
    assert resend.status_code == 409


def test_verification_code_resent_to_the_signed_in_account(client, mail_sink, make_user):
    user = make_user()
    tokens = login(client, user.email, PASSWORD).json
    sent = client.post("/api/v1/auth/verify-email/resend", headers=bearer(tokens["access_token"]))
    assert sent.status_code == 202
    send_mails()
    code = mailed(mail_sink, "Verification code", user.email)
    tampered = client.post("/api/v1/auth/verify-email", json={"token": code[:-2] + "xx"})
    assert tampered.status_code == 400 and tampered.json["errors"]["reason"] == "link_invalid"
    assert (
        client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])).json["email_verified"] is False
    )
    assert client.post("/api/v1/auth/verify-email", json={"token": code}).status_code == 200


def decode_token_claims(client, token: str) -> dict:
    with client.application.app_context():
        return decode_token(token)


@pytest.fixture()
def verifying_client(mail_sink):
    """A client of an app that lets only verified customers book."""
    current = runtime.settings()
    app = create_app(dataclasses.replace(current, require_verified_email=True))
    yield app.test_client()
    runtime.configure(current)


def test_unverified_customers_may_not_book_when_the_setting_says_so(
    verifying_client, mail_sink, organizer, make_event
):
    client, event = verifying_client, make_event(organizer)
    register(client)
    send_mails()
    tokens = login(client).json
    refused = client.post(
        "/api/v1/bookings", json=booking_body(event), headers=bearer(tokens["access_token"])
    )
    assert refused.status_code == 403 and refused.json["errors"]["reason"] == "email_unverified"

    code = mailed(mail_sink, "Verification code", "ada@example.test")
    assert client.post("/api/v1/auth/verify-email", json={"token": code}).status_code == 200
    fresh = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).json
    booked = client.post("/api/v1/bookings", json=booking_body(event), headers=bearer(fresh["access_token"]))
    assert booked.status_code == 202


def test_unverified_customers_may_book_by_default(client, organizer, make_event):
    event = make_event(organizer)
    register(client)
    tokens = login(client).json
    booked = client.post("/api/v1/bookings", json=booking_body(event), headers=bearer(tokens["access_token"]))
    assert booked.status_code == 202


def change_password(client, access_token, current=PASSWORD, new=NEW_PASSWORD):
    return client.post(
        "/api/v1/auth/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(access_token),
    )


def test_password_change_keeps_this_session_and_signs_out_the_others(client, make_user):
    user = make_user()
    here, elsewhere = (login(client, user.email, PASSWORD).json for _ in range(2))
    assert change_password(client, here["access_token"]).status_code == 204

    assert client.get("/api/v1/auth/me", headers=bearer(here["access_token"])).status_code == 200
    assert client.post("/api/v1/auth/refresh", headers=bearer(here["refresh_token"])).status_code == 200
    gone = client.get("/api/v1/auth/me", headers=bearer(elsewhere["access_token"]))
    assert gone.status_code == 401 and gone.json["errors"]["reason"] == "token_revoked"
    assert login(client, user.email, NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("current", "new", "status", "reason"),
    [
        ("not-the-password", NEW_PASSWORD, 403, "wrong_password"),
        (PASSWORD, "password1", 422, "common_password"),
    ],
)
def test_refused_password_change_changes_nothing(client, make_user, current, new, status, reason):
    user = make_user()
    here, elsewhere = (login(client, user.email, PASSWORD).json for _ in range(2))
    response = change_password(client, here["access_token"], current, new)
    assert response.status_code == status and response.json["errors"]["reason"] == reason
    assert client.get("/api/v1/auth/me", headers=bearer(elsewhere["access_token"])).status_code == 200
    assert login(client, user.email, PASSWORD).status_code == 200


def test_password_change_needs_a_signed_in_session(client):
    response = client.post(
        "/api/v1/auth/password", json={"current_password": "x", "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 401


@pytest.fixture()
def limited_client(settings):
    app = create_app(
        dataclasses.replace(settings, rate_limits_enabled=True, account_rate_limit="2 per minute")
    )
    yield app.test_client()
    runtime.configure(settings)


def test_reset_requests_are_limited_per_target_address_whatever_the_client_address(limited_client):
    statuses = [
        limited_client.post(
            "/api/v1/auth/password-reset",
            json={"email": "ada@example.test"},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},
        ).status_code
        for n in range(3)
    ]
    assert statuses == [202, 202, 429]
    other = limited_client.post(
        "/api/v1/auth/password-reset",
        json={"email": "bob@example.test"},
        environ_base={"REMOTE_ADDR": "192.0.2.9"},
    )
    assert other.status_code == 202


def test_reset_requests_are_limited_per_client_address_whatever_the_target(limited_client):
    statuses = [ask_reset(limited_client, f"user{n}@example.test").status_code for n in range(3)]
    assert statuses == [202, 202, 429]
    refused = ask_reset(limited_client, "user9@example.test")
    assert refused.headers.get("Retry-After") and refused.json["code"] == 429


def test_a_token_of_another_account_does_not_buy_a_fresh_budget(limited_client, make_user, auth_header):
    for n in range(2):
        assert ask_reset(limited_client, f"user{n}@example.test").status_code == 202
    with_token = limited_client.post(
        "/api/v1/auth/password-reset", json={"email": "user7@example.test"}, headers=auth_header(make_user())
    )
    assert with_token.status_code == 429


def test_password_change_is_limited_per_account(limited_client, make_user):
    user = make_user()
    token = login(limited_client, user.email, PASSWORD).json["access_token"]
    statuses = [
        limited_client.post(
            "/api/v1/auth/password",
            json={"current_password": f"guess-number-{n}", "new_password": NEW_PASSWORD},
            headers=bearer(token),
            environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
        ).status_code
        for n in range(3)
    ]
    assert statuses == [403, 403, 429]
