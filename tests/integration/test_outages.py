"""Outages of Redis and PostgreSQL are a 503 with Retry-After, never a 500 or a sign-out (a 401).

Each test runs against a server of its own (tests/faults.py), which it freezes, kills or stops.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import redis
from flask_jwt_extended import create_access_token

from core import runtime
from core.booking_queue import BookingQueue
from core.booking_requests import BookingRequest
from core.inventory import Line
from core.models import User, utcnow
from tests.conftest import _PASSWORD_HASH, PASSWORD
from tests.faults import app_on


def assert_unavailable(response):
    assert response.status_code == 503, (response.status_code, response.data[:300])
    assert int(response.headers["Retry-After"]) > 0
    assert response.json["code"] == 503
    assert response.json["status"] == "Service Unavailable"
    assert response.json["errors"]["reason"] == "unavailable"


def booking_body(event) -> dict:
    return {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
    }


def a_request(event, idempotency_key: str) -> BookingRequest:
    return BookingRequest(booking_id=uuid.uuid4(), user_id=uuid.uuid4(), event_id=event.id, seq=0,
                          lines=(Line(event.ticket_types[0].id, 1),), join_waitlist=False, requested_at=utcnow(),
                          idempotency_key=idempotency_key)  # fmt: skip


def test_a_booking_step_redis_runs_after_its_caller_gave_up_queues_nothing(
    settings, private_redis, organizer, make_event
):
    """A frozen Redis still reads what was sent to it: when it resumes, it would queue a request
    whose client was told it failed. The step carries its caller's deadline and refuses then."""
    event = make_event(organizer)
    runtime.configure(dataclasses.replace(settings, redis_url=private_redis.url))
    try:
        queue = BookingQueue(runtime.redis_client())
        queue.accept(a_request(event, "first"), "fingerprint", "session")  # connected, script loaded
        private_redis.freeze()
        with pytest.raises(redis.TimeoutError):
            queue.accept(a_request(event, "second"), "fingerprint", "session")
        private_redis.thaw()
        assert queue.queue_length(event.id) == 1
        assert private_redis.client().keys("bq:*:idem:*:second") == []
    finally:
        runtime.configure(settings)


@pytest.mark.parametrize("rate_limits", [True, False], ids=["rate-limited", "unlimited"])
def test_redis_down_is_503_wherever_it_is_needed(
    settings, app, private_redis, make_user, organizer, make_event, auth_header, rate_limits
):
    customer, event = make_user(), make_event(organizer)
    headers = auth_header(customer)
    with app_on(settings, app, redis_url=private_redis.url, rate_limits_enabled=rate_limits,
                login_rate_limit="1000 per minute", booking_rate_limit="1000 per minute") as client:  # fmt: skip
        private_redis.kill()
        login = client.post("/api/v1/auth/login", json={"email": customer.email, "password": PASSWORD})
        # Signing in records the session in Redis (so a password change can end it), limits or not.
        assert_unavailable(login)
        assert_unavailable(client.post("/api/v1/bookings", json=booking_body(event), headers=headers))
        # A poll checks the session's revocation in Redis before anything else.
        assert_unavailable(client.get(f"/api/v1/bookings/{uuid.uuid4()}", headers=headers))
        assert_unavailable(client.get("/api/v1/auth/me", headers=headers))
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json["checks"]["database"] == "ok"
        assert ready.json["checks"]["redis"].startswith("error: ConnectionError")


def test_frozen_redis_is_503_and_queues_nothing_afterwards(
    settings, app, private_redis, make_user, organizer, make_event, auth_header
):
    customer, event = make_user(), make_event(organizer)
    headers = auth_header(customer)
    with app_on(settings, app, redis_url=private_redis.url) as client:
        assert client.post("/api/v1/bookings", json=booking_body(event), headers=headers).status_code == 202
        private_redis.freeze()
        response = client.post("/api/v1/bookings", json=booking_body(event), headers=headers)
        private_redis.thaw()
        assert_unavailable(response)
        assert private_redis.client().zcard(f"bq:{{{event.id}}}:queue") == 1  # the first request alone


def _insert_user(email: str) -> User:
    with runtime.database().unit_of_work() as uow:
        user = User(email=email, password_hash=_PASSWORD_HASH, name="Ada", role="customer")
        uow.session.add(user)
        uow.commit()
        return user


def test_postgresql_down_is_503_not_a_sign_out_and_recovers(
    settings, app, private_postgres, private_database_url
):
    with app_on(settings, app, database_url=private_database_url) as client:
        user = _insert_user(f"ada-{uuid.uuid4().hex[:8]}@example.test")
        with client.application.app_context():
            token = create_access_token(
                identity=str(user.id), additional_claims={"role": "customer", "sid": "s"}
            )
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
        private_postgres.stop()
        try:
            assert_unavailable(client.get("/api/v1/auth/me", headers=headers))
            assert_unavailable(client.get("/api/v1/bookings", headers=headers))
            assert_unavailable(
                client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
            )
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json["checks"]["redis"] == "ok"
            assert ready.json["checks"]["database"].startswith("error: OperationalError")
        finally:
            private_postgres.start()
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_a_truly_missing_account_is_still_a_401(client, auth_header):
    ghost = User(id=uuid.uuid4(), role="customer")
    response = client.get("/api/v1/auth/me", headers=auth_header(ghost))
    assert response.status_code == 401
    assert response.json["errors"]["reason"] == "unknown_user"
