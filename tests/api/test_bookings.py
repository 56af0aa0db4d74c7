"""Bookings over HTTP: 202 at once, poll to a decision, only the right people see it."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.back_office_data import add_booking
from tests.conftest import METRICS_AUTH, PASSWORD
from tests.integration.booking_helpers import drain, load, queue_length


def body(event, quantity=1, **extra) -> dict:
    return {"event_id": str(event.id), "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": quantity}],
            **extra}  # fmt: skip


def test_booking_is_accepted_at_once_then_polled_to_a_hold(
    client, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, quota=10)
    customer = auth_header(make_user())
    accepted = client.post("/api/v1/bookings", json=body(event, 2), headers=customer)
    assert accepted.status_code == 202
    assert accepted.json["status"] == "queued" and accepted.json["queue_position"] == 1
    location = accepted.headers["Location"]
    assert location == f"/api/v1/bookings/{accepted.json['id']}"
    assert int(accepted.headers["Retry-After"]) >= 1

    polled = client.get(location, headers=customer)
    assert polled.status_code == 200 and polled.json["status"] == "queued"
    drain(event)
    held = client.get(location, headers=customer)
    assert held.json["status"] == "held"
    assert held.json["total"] == 5000 and held.json["currency"] == "EUR"
    assert held.json["items"][0]["unit_price"] == 2500
    assert held.headers["Retry-After"]

    listed = client.get("/api/v1/bookings", headers=customer)
    assert [b["id"] for b in listed.json] == [accepted.json["id"]]
    assert client.get("/api/v1/bookings?status=confirmed", headers=customer).json == []


def test_final_status_has_no_retry_after(client, organizer, make_event, make_user, auth_header):
    event = make_event(organizer, quota=0)
    customer = auth_header(make_user())
    location = client.post("/api/v1/bookings", json=body(event), headers=customer).headers["Location"]
    drain(event)
    rejected = client.get(location, headers=customer)
    assert rejected.json["status"] == "rejected" and rejected.json["reason"] == "sold_out"
    assert "Retry-After" not in rejected.headers


def test_idempotency_key_over_http(client, organizer, make_event, make_user, auth_header):
    event = make_event(organizer)
    headers = {**auth_header(make_user()), "Idempotency-Key": "checkout-7"}
    first = client.post("/api/v1/bookings", json=body(event, 2), headers=headers)
    again = client.post("/api/v1/bookings", json=body(event, 2), headers=headers)
    assert again.status_code == 202 and again.json["id"] == first.json["id"]
    other = client.post("/api/v1/bookings", json=body(event, 3), headers=headers)
    assert other.status_code == 422 and other.json["errors"]["reason"] == "idempotency_key_reused"
    drain(event)
    decided = client.post("/api/v1/bookings", json=body(event, 2), headers=headers)
    assert decided.json["id"] == first.json["id"] and decided.json["status"] == "held"


def test_a_signed_out_session_cannot_book(client, organizer, make_event, make_user):
    """The booking path checks revocation in its queueing step (first round trip): a signed-out session's
    request is refused with the same 401 as everywhere else, and nothing is queued."""
    event = make_event(organizer)
    make_user(email="fan@example.test")
    tokens = client.post("/api/v1/auth/login", json={"email": "fan@example.test", "password": PASSWORD}).json
    signed_in = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/v1/bookings", json=body(event), headers=signed_in).status_code == 202
    assert client.post("/api/v1/auth/logout", headers=signed_in).status_code == 204

    refused = client.post("/api/v1/bookings", json=body(event), headers={**signed_in, "Idempotency-Key": "k"})
    assert refused.status_code == 401 and refused.json["errors"]["reason"] == "token_revoked"
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert queue_length(event) == 1


def test_booking_requests_are_rate_limited_per_customer(
    settings, app, organizer, make_event, make_user, auth_header
):
    from tests.faults import app_on

    event = make_event(organizer)
    with app_on(settings, app, rate_limits_enabled=True, booking_rate_limit="2 per minute") as client:
        ada, bob = auth_header(make_user()), auth_header(make_user())
        statuses = [  # from three addresses: the bucket is the customer's
            client.post(
                "/api/v1/bookings",
                json=body(event),
                headers=ada,
                environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},
            ).status_code
            for n in range(3)
        ]
        assert statuses == [202, 202, 429]
        assert client.post("/api/v1/bookings", json=body(event), headers=bob).status_code == 202
        assert queue_length(event) == 3


def test_only_the_customer_and_the_events_organizers_see_a_booking(client, organizer, make_event, make_user,
                                                                  make_organization, auth_header):  # fmt: skip
    event = make_event(organizer)
    owner = make_user()
    location = client.post("/api/v1/bookings", json=body(event), headers=auth_header(owner)).headers[
        "Location"
    ]
    stranger = make_user()
    other_organizer = make_user("organizer", make_organization("Rivals"))
    for phase in ("queued", "decided"):
        assert client.get(location, headers=auth_header(stranger)).status_code == 404, phase
        assert client.get(location, headers=auth_header(other_organizer)).status_code == 404, phase
        assert client.get(location, headers=auth_header(organizer)).status_code == 200, phase
        assert client.post(f"{location}/cancel", headers=auth_header(stranger)).status_code == 404, phase
        drain(event)
    assert client.get(location).status_code == 401


def test_a_queued_request_polled_by_its_customer_is_answered_without_postgresql(
    client, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer)
    customer = auth_header(make_user())
    location = client.post("/api/v1/bookings", json=body(event), headers=customer).headers["Location"]
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(Engine, "before_cursor_execute", record)
    try:
        polled = client.get(location, headers=customer)
    finally:
        sa.event.remove(Engine, "before_cursor_execute", record)
    assert polled.status_code == 200 and polled.json["status"] == "queued"
    assert statements == []
    assert client.get(location, headers=auth_header(organizer)).status_code == 200


def test_customer_lets_go_of_a_hold(client, organizer, make_event, make_user, auth_header):
    event = make_event(organizer, quota=1)
    customer = auth_header(make_user())
    location = client.post("/api/v1/bookings", json=body(event), headers=customer).headers["Location"]
    early = client.post(f"{location}/cancel", headers=customer)
    assert early.status_code == 409 and early.json["errors"]["reason"] == "not_decided_yet"
    drain(event)
    cancelled = client.post(f"{location}/cancel", headers=customer)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert client.get(f"/api/v1/events/{event.id}").json["available"] == 1


def test_organizer_sees_the_waitlist_in_order(client, organizer, make_event, make_user, auth_header):
    event = make_event(organizer, quota=1)
    people = [make_user(name=f"Person {i}") for i in range(4)]
    for person in people:
        client.post("/api/v1/bookings", json=body(event, join_waitlist=True), headers=auth_header(person))
    drain(event)
    waitlist = client.get(f"/api/v1/events/{event.id}/waitlist", headers=auth_header(organizer))
    assert waitlist.status_code == 200
    assert [(e["position"], e["customer_name"]) for e in waitlist.json] == [
        (1, "Person 1"),
        (2, "Person 2"),
        (3, "Person 3"),
    ]
    assert (
        client.get(f"/api/v1/events/{event.id}/waitlist", headers=auth_header(people[0])).status_code == 403
    )


def bad_bodies(event, other_event) -> dict:
    tt = str(event.ticket_types[0].id)
    return {
        "missing items": {"event_id": str(event.id)},
        "empty items": {"event_id": str(event.id), "items": []},
        "zero quantity": body(event, 0),
        "negative quantity": body(event, -3),
        "huge quantity": body(event, 10**9),
        "quantity as string": body(event, "2"),
        "quantity as float": body(event, 1.5),
        "event id not a uuid": {**body(event), "event_id": "42"},
        "unknown event": {**body(event), "event_id": str(uuid.uuid4())},
        "unknown ticket type": {"event_id": str(event.id), "items": [{"ticket_type_id": str(uuid.uuid4()), "quantity": 1}]},
        "another event's ticket type": {"event_id": str(event.id), "items": [
            {"ticket_type_id": str(other_event.ticket_types[0].id), "quantity": 1}]},
        "same type twice": {"event_id": str(event.id), "items": [{"ticket_type_id": tt, "quantity": 1}] * 2},
        "over the per-booking limit": body(event, 11),
        "unknown field": {**body(event), "seat": "A1"},
        "waitlist not a boolean": {**body(event), "join_waitlist": "please"},
        "not an object": [body(event)],
    }  # fmt: skip


def test_bad_booking_requests_are_refused_and_queue_nothing(
    client, organizer, make_event, make_user, auth_header
):
    event, other = make_event(organizer, max_per_booking=10), make_event(organizer)
    customer = auth_header(make_user())
    for name, payload in bad_bodies(event, other).items():
        response = client.post("/api/v1/bookings", json=payload, headers=customer)
        assert 400 <= response.status_code < 500, name
        assert response.json["message"], name
    assert queue_length(event) == 0


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [({"status": "draft"}, 404, "not_found"), ({"status": "cancelled"}, 409, "event_cancelled")],
)
def test_closed_events_are_refused(
    client, organizer, make_event, make_user, auth_header, fields, status, reason
):
    event = make_event(organizer, **fields)
    response = client.post("/api/v1/bookings", json=body(event), headers=auth_header(make_user()))
    assert response.status_code == status and response.json["errors"]["reason"] == reason


def test_bad_idempotency_key_is_refused(client, organizer, make_event, make_user, auth_header):
    event = make_event(organizer)
    headers = {**auth_header(make_user()), "Idempotency-Key": "x" * 201}
    response = client.post("/api/v1/bookings", json=body(event), headers=headers)
    assert response.status_code == 422
    assert response.json["errors"]["reason"] == "bad_idempotency_key"
    assert queue_length(event) == 0


def test_unknown_booking_is_404(client, make_user, auth_header):
    headers = auth_header(make_user())
    assert client.get(f"/api/v1/bookings/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/bookings/{uuid.uuid4()}/cancel", headers=headers).status_code == 404


def test_metrics_report_requests_queue_depth_and_batches(
    client, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, quota=1)
    for _ in range(3):
        client.post("/api/v1/bookings", json=body(event), headers=auth_header(make_user()))
    before = client.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    assert "boxoffice_queued_requests 3.0" in before
    drain(event)
    after = client.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    assert "boxoffice_queued_requests 0.0" in after
    assert "boxoffice_held_bookings 1.0" in after
    assert 'boxoffice_allocation_batch_size_bucket{le="10"} 1.0' in after
    assert 'boxoffice_http_requests_total{endpoint="/api/v1/bookings",method="POST",status="202"}' in after


def test_a_decided_booking_that_is_not_open_cannot_be_cancelled_nor_a_hold_in_part(
    client, db, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer)
    customer, holder = make_user(), make_user()
    rejected, held = add_booking(db, event, customer, "rejected"), add_booking(db, event, holder, "held")
    whole = client.post(f"/api/v1/bookings/{rejected.id}/cancel", headers=auth_header(customer))
    assert (whole.status_code, whole.json["errors"]["reason"]) == (409, "not_cancellable")
    part = client.post(f"/api/v1/bookings/{held.id}/cancel", json={"ticket_ids": [str(uuid.uuid4())]},
                       headers=auth_header(holder))  # fmt: skip
    assert (part.status_code, part.json["errors"]["reason"]) == (409, "not_cancellable")
    assert (load(db, rejected.id).status, load(db, held.id).status) == ("rejected", "held")
