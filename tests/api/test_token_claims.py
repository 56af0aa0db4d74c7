"""A token is honoured only with an expiry (`exp`) and a session id (`sid`), whoever signed it:
without `exp` it would never end, without `sid` signing out could not revoke it."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_jwt_extended import create_access_token, create_refresh_token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def mint(app, make_user):
    user = make_user()

    def token(kind=create_access_token, **options) -> str:
        with app.app_context():
            return kind(identity=str(user.id), **options)

    return token


def test_a_token_with_expiry_and_session_is_honoured(client, mint):
    access = mint(additional_claims={"role": "customer", "sid": "s1"})
    assert client.get("/api/v1/auth/me", headers=bearer(access)).status_code == 200
    refresh = mint(create_refresh_token, additional_claims={"sid": "s1"})
    assert client.post("/api/v1/auth/refresh", headers=bearer(refresh)).status_code == 200


@pytest.mark.parametrize(
    "options",
    [
        {"additional_claims": {"role": "customer", "sid": "s1"}, "expires_delta": False},
        {"additional_claims": {"role": "customer"}},
        {"additional_claims": {"role": "customer", "sid": ""}},
    ],
    ids=["no exp", "no sid", "empty sid"],
)
def test_a_token_without_expiry_or_session_is_refused(client, mint, options):
    answer = client.get("/api/v1/auth/me", headers=bearer(mint(**options)))
    assert answer.status_code == 401
    assert answer.json["errors"]["reason"] == "invalid_token"
    refresh = client.post("/api/v1/auth/refresh", headers=bearer(mint(create_refresh_token, **options)))
    assert refresh.status_code == 401


def test_an_expired_token_is_a_401_saying_so(client, mint):
    token = mint(additional_claims={"sid": "s1"}, expires_delta=dt.timedelta(seconds=-1))
    answer = client.get("/api/v1/auth/me", headers=bearer(token))
    assert (answer.status_code, answer.json["errors"]["reason"]) == (401, "token_expired")
