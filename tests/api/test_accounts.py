"""Accounts over HTTP: register, sign in, refresh, sign out, who am I, rate limits."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api import create_app
from core.errors import Conflict
from core.models import User
from core.services import accounts
from tests.conftest import PASSWORD


def register(client, email="ada@example.test", password="s3cret-enough", name="Ada"):
    return client.post("/api/v1/auth/register", json={"email": email, "password": password, "name": name})


def login(client, email="ada@example.test", password="s3cret-enough"):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_register_then_login_then_me(client):
    created = register(client, email="Ada@Example.TEST")
    assert created.status_code == 202 and created.json["message"]

    tokens = login(client, email="ADA@example.test").json
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    me = client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json["email"] == "ada@example.test" and me.json["role"] == "customer"
    assert me.json["email_verified"] is False
    assert "password" not in me.json and "password_hash" not in me.json


def test_email_is_unique_whatever_its_case(client, db):
    assert register(client).status_code == 202
    assert register(client, email="ADA@EXAMPLE.test", password="another-secret").status_code == 202
    with db.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(User)) == 1


def test_wrong_password_and_unknown_email_are_refused_alike(client):
    register(client)
    wrong = login(client, password="not-the-password")
    unknown = login(client, email="nobody@example.test")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["message"] == unknown.json["message"]
    assert wrong.json["errors"]["reason"] == unknown.json["errors"]["reason"] == "invalid_credentials"


def test_weak_password_is_refused_and_creates_nothing(client):
    response = register(client, password="short")
    assert response.status_code == 422
    assert "password" in response.json["errors"]["json"]
    assert login(client, password="short").status_code == 401


@pytest.mark.parametrize("password", ["password", "iloveyou", "Sunshine", "QWERTYUIOP"])
def test_common_password_is_refused_and_creates_nothing(client, password):
    response = register(client, password=password)
    assert response.status_code == 422
    assert response.json["errors"]["reason"] == "common_password"
    assert login(client, password=password).status_code == 401


def test_openapi_states_the_password_rule(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    for schema, field in [("RegisterIn", "password"), ("PasswordResetIn", "password"),
                          ("PasswordChangeIn", "new_password")]:  # fmt: skip
        password = schemas[schema]["properties"][field]
        assert (password["minLength"], password["maxLength"]) == (8, 128)


def test_refresh_gives_a_working_access_token(client):
    register(client)
    tokens = login(client).json
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(refreshed.json["access_token"])).status_code == 200


def test_access_token_cannot_be_used_to_refresh(client):
    register(client)
    tokens = login(client).json
    response = client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"]))
    assert response.status_code in (401, 422)
    assert "access_token" not in (response.json or {})


def test_logout_revokes_access_and_refresh_tokens(client):
    register(client)
    tokens = login(client).json
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204

    me = client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401 and me.json["errors"]["reason"] == "token_revoked"
    refresh = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refresh.status_code == 401

    fresh = login(client).json  # a new sign-in starts a new session
    assert client.get("/api/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer a.b.c"},
    ],
)
def test_me_without_a_valid_token_is_401(client, headers):
    response = client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == 401 and response.json["message"]


def test_token_signed_with_another_secret_is_refused(client, settings):
    from dataclasses import replace

    other = create_app(replace(settings, jwt_secret_key="another-secret-" * 4))
    with other.app_context():
        from flask_jwt_extended import create_access_token

        forged = create_access_token(
            identity="00000000-0000-0000-0000-000000000000", additional_claims={"sid": "x"}
        )
    from core import runtime

    runtime.configure(settings)
    assert client.get("/api/v1/auth/me", headers=bearer(forged)).status_code == 401


def test_login_is_rate_limited(settings, app, make_user, redis_client):
    from tests.faults import app_on

    with app_on(settings, app, rate_limits_enabled=True, login_rate_limit="3 per minute") as client:
        user = make_user()
        statuses = [login(client, email=user.email, password=PASSWORD).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = login(client, email=user.email, password=PASSWORD)
        assert refused.headers.get("Retry-After")
        assert refused.json["code"] == 429


def test_the_service_refuses_a_taken_address_by_name(db, make_user):
    """`POST /auth/register` answers a taken address like a new one; the service below it refuses."""
    user = make_user()
    with db.unit_of_work() as uow, pytest.raises(Conflict) as refused:
        accounts.register_user(uow, user.email.upper(), "a-long-enough-passphrase", "Twin")
    assert refused.value.name == "email_taken"


def test_a_full_width_address_is_the_same_account(client, db):
    assert register(client, email="admin@example.test").status_code == 202
    assert register(client, email="ａｄｍｉｎ@example.test", password="another-secret").status_code == 202
    with db.unit_of_work() as uow:
        assert uow.session.scalars(select(User.email)).all() == ["admin@example.test"]
    assert login(client, email="ａdmin@example.test").status_code == 200


@pytest.mark.parametrize("lookalike", ["\u0430dmin@example.test", "adm\u0456n@example.test"])
def test_a_mixed_script_lookalike_is_refused_whether_or_not_its_original_exists(client, db, lookalike):
    before = register(client, email=lookalike)
    assert register(client, email="admin@example.test").status_code == 202
    after = register(client, email=lookalike)
    assert before.status_code == after.status_code == 422
    assert before.json == after.json  # nothing told about admin@
    assert after.json["errors"]["reason"] == "email_mixed_scripts"
    with db.unit_of_work() as uow:
        assert uow.session.scalars(select(User.email)).all() == ["admin@example.test"]


def test_an_address_in_another_script_registers(client, db):
    assert register(client, email="\u0438\u0432\u0430\u043d@example.test").status_code == 202
    assert login(client, email="\u0418\u0412\u0410\u041d@example.test").status_code == 200
