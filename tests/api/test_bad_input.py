"""Bad input of every kind gets a clear 4xx in flask-smorest's error shape, and changes nothing."""

from __future__ import annotations

import json
import uuid

import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import func, select

from api.json_body import MAX_DEPTH, JSONBodyParser
from core.models import Event, Organization, User
from tests.api.test_events import event_body


def with_ticket_type(**fields) -> dict:
    return event_body(ticket_types=[{"name": "S", "price": 100, "currency": "EUR", "quota": 10, **fields}])


def without(field: str) -> dict:
    body = event_body()
    del body[field]
    return body


# Each bad event, and the reason its refusal names (None: the schema refuses a field, no reason).
BAD_EVENTS = {
    "missing title": (without("title"), None),
    "missing starts_at": (without("starts_at"), None),
    "missing ticket types": (without("ticket_types"), None),
    "empty ticket types": (event_body(ticket_types=[]), None),
    "title wrong type": (event_body(title=123), None),
    "title empty": (event_body(title=""), None),
    "title oversized": (event_body(title="x" * 201), None),
    "description oversized": (event_body(description="x" * 10_001), None),
    "naive datetime": (event_body(starts_at="2030-01-01T20:00:00"), None),
    "not a datetime": (event_body(starts_at="next friday"), None),
    "ends before starts": (event_body(starts_at="2030-01-02T20:00:00+00:00", ends_at="2030-01-01T20:00:00+00:00"), "ends_before_start"),
    "unknown time zone": (event_body(timezone="Mars/Olympus_Mons"), "unknown_timezone"),
    "latitude out of range": (event_body(latitude=123.0), None),
    "latitude without longitude": (event_body(longitude=None), "incomplete_location"),
    "negative quota": (with_ticket_type(quota=-1), None),
    "quota as string": (with_ticket_type(quota="10"), None),
    "quota as float": (with_ticket_type(quota=10.5), None),
    "negative price": (with_ticket_type(price=-100), None),
    "bad currency": (with_ticket_type(currency="EURO"), None),
    "surge without threshold": (with_ticket_type(surge_price=200), "incomplete_surge"),
    "surge threshold above quota": (with_ticket_type(surge_price=200, surge_threshold=11), "surge_threshold_too_high"),
    "hold too short": (event_body(hold_seconds=5), None),
    "max per booking zero": (event_body(max_per_booking=0), None),
    "per user below per booking": (event_body(max_per_booking=5, max_per_user=2), "limits_inconsistent"),
    "sales end before start": (event_body(sales_start="2030-01-02T00:00:00+00:00", sales_end="2030-01-01T00:00:00+00:00"), "sales_end_before_start"),
    "unknown field": (event_body(colour="red"), None),
    "duplicate ticket type names": (event_body(ticket_types=[
        {"name": "S", "price": 1, "currency": "EUR", "quota": 1}, {"name": "s", "price": 1, "currency": "EUR", "quota": 1}]), "duplicate_ticket_type"),
    "mixed currencies": (event_body(ticket_types=[
        {"name": "A", "price": 1, "currency": "EUR", "quota": 1}, {"name": "B", "price": 1, "currency": "USD", "quota": 1}]), "mixed_currencies"),
    "ticket type not an object": (event_body(ticket_types=["VIP"]), None),
    "body is a list": ([event_body()], None),
    "sales after the event": (event_body(sales_end="2100-01-01T00:00:00+00:00"), "sales_after_event"),
}  # fmt: skip


def count(db, model) -> int:
    with db.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def assert_error_shape(response, status_range=range(400, 500)):
    assert response.status_code in status_range, (response.status_code, response.data[:300])
    body = response.json
    assert body["code"] == response.status_code
    assert body["status"] and body["message"]


@pytest.mark.parametrize(("body", "reason"), BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
def test_bad_event_is_refused_and_creates_nothing(client, organizer, auth_header, db, body, reason):
    response = client.post("/api/v1/events", json=body, headers=auth_header(organizer))
    assert_error_shape(response)
    assert response.status_code in (400, 422)
    assert response.json.get("errors", {}).get("reason") == reason
    assert count(db, Event) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"{not json", "application/json"), (b"", "application/json"), (b"title=x", "application/x-www-form-urlencoded"),
     (b"\xff\xfe\x00", "application/json"), (b"null", "application/json"), (b'"a string"', "application/json")],
)  # fmt: skip
def test_non_json_bodies_are_refused(client, organizer, auth_header, db, data, content_type):
    response = client.post(
        "/api/v1/events", data=data, content_type=content_type, headers=auth_header(organizer)
    )
    assert_error_shape(response)
    assert count(db, Event) == 0


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_json_body_sent_without_saying_so_is_a_415_saying_what_to_send(
    client, organizer, auth_header, db, content_type
):
    response = client.post("/api/v1/events", data=json.dumps(event_body()), content_type=content_type,
                           headers=auth_header(organizer))  # fmt: skip
    assert response.status_code == 415
    assert response.json["errors"]["reason"] == "unsupported_media_type"
    assert "Content-Type: application/json" in response.json["message"]
    assert count(db, Event) == 0


def test_malformed_json_says_where(client, organizer, auth_header, db):
    data = b'{\n  "title": "Gala",\n  "venue": "Hall",,\n}'
    response = client.post("/api/v1/events", data=data, content_type="application/json",
                           headers=auth_header(organizer))  # fmt: skip
    assert response.status_code == 400
    assert response.json["errors"] == {"reason": "invalid_json", "line": 3, "column": 19}
    assert "line 3, column 19" in response.json["message"]
    assert count(db, Event) == 0


def test_oversized_body_is_413(client, organizer, auth_header):
    response = client.post(
        "/api/v1/events",
        data=b"x" * (2 * 1024 * 1024),
        content_type="application/json",
        headers=auth_header(organizer),
    )
    assert_error_shape(response)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "not-an-email", "password": "long-enough-1", "name": "A"},
     {"email": "a@example.test", "password": 12345678, "name": "A"},
     {"email": "a@example.test", "password": "long-enough-1", "name": ""},
     {"email": "a@example.test", "password": "long-enough-1", "name": "x" * 201},
     {"email": "a@example.test", "password": "p" * 2000, "name": "A"},
     {"email": "a@example.test", "password": "long-enough-1", "name": "A", "role": "admin"}],
)  # fmt: skip
def test_bad_registrations_are_refused_and_create_nothing(client, db, body):
    response = client.post("/api/v1/auth/register", json=body)
    assert_error_shape(response)
    assert count(db, User) == 0


@pytest.mark.parametrize(
    "path",
    [f"/api/v1/events/{uuid.uuid4()}", "/api/v1/events/not-a-uuid", f"/api/v1/events/{uuid.uuid4()}/calendar.ics",
     "/api/v1/nowhere"],
)  # fmt: skip
def test_unknown_ids_are_404(client, path):
    response = client.get(path)
    assert_error_shape(response, range(404, 405))
    assert response.json["errors"]["reason"] == "not_found"


def test_unknown_event_edits_are_404(client, organizer, auth_header):
    headers = {**auth_header(organizer), "If-Match": '"1"'}
    assert_error_shape(
        client.patch(f"/api/v1/events/{uuid.uuid4()}", json={"title": "x"}, headers=headers), [404]
    )
    assert_error_shape(client.post(f"/api/v1/events/{uuid.uuid4()}/publish", headers=headers), [404])


def test_unknown_ticket_type_edit_is_404(client, organizer, make_event, auth_header):
    event = make_event(organizer)
    headers = {**auth_header(organizer), "If-Match": '"1"'}
    response = client.patch(
        f"/api/v1/events/{event.id}/ticket-types/{uuid.uuid4()}", json={"quota": 1}, headers=headers
    )
    assert_error_shape(response, [404])


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/api/v1/events")
    assert_error_shape(response, [405])
    assert response.json["errors"]["reason"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_bad_organization_is_refused(client, make_user, auth_header, db):
    admin = make_user("admin")
    for body in ({}, {"name": ""}, {"name": "x" * 201}, {"name": "A", "contact_email": "nope"}):
        assert_error_shape(client.post("/api/v1/organizations", json=body, headers=auth_header(admin)))
    assert count(db, Organization) == 0


@pytest.mark.parametrize(
    ("path", "payload"),
    [("/api/v1/auth/register", {"email": "a@example.test", "password": "long-enough-1", "name": "Ada\x00"}),
     ("/api/v1/events", event_body(title="Jazz\x00Night")),
     ("/api/v1/events", event_body(ticket_types=[{"name": "V\x07IP", "price": 1, "currency": "EUR", "quota": 1}]))],
)  # fmt: skip
def test_control_characters_are_refused_before_the_database(
    client, organizer, auth_header, db, path, payload
):
    response = client.post(path, json=payload, headers=auth_header(organizer))
    assert response.status_code == 422
    assert "Control characters" in str(response.json["errors"])
    assert count(db, Event) == 0


def test_line_breaks_and_tabs_are_fine_in_a_description(client, organizer, auth_header):
    response = client.post("/api/v1/events", json=event_body(description="Doors open 19:00.\n\tBar\r\n"),
                           headers=auth_header(organizer))  # fmt: skip
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("path", "raw"),
    [("/api/v1/events", '{"title": "Jazz \\ud800 Night"}'),
     ("/api/v1/auth/register", '{"email": "a@example.test", "password": "long-enough-1", "name": "\\udfff"}'),
     ("/api/v1/auth/login", '{"email": "\\ud800@example.test", "password": "long-enough-1"}')],
)  # fmt: skip
def test_lone_surrogates_are_refused_before_the_database(client, organizer, auth_header, db, path, raw):
    body = json.loads(raw)
    if path == "/api/v1/events":
        body = {**event_body(), **body}
    response = client.post(path, data=json.dumps(body), content_type="application/json",
                           headers=auth_header(organizer))  # fmt: skip
    assert_error_shape(response)
    assert count(db, Event) == 0
    assert count(db, User) == 1  # the organizer alone


@pytest.mark.parametrize(
    "body",
    [event_body(starts_at="9999-12-31T23:00:00-14:00", ends_at="9999-12-31T23:30:00-14:00"),
     event_body(starts_at="0001-01-01T00:00:00+14:00"),
     event_body(sales_start="0001-01-01T00:00:00+14:00"),
     event_body(refund_until="9999-12-31T23:59:59-14:00")],
)  # fmt: skip
def test_times_beyond_the_calendar_in_utc_are_refused(client, organizer, auth_header, db, body):
    response = client.post("/api/v1/events", json=body, headers=auth_header(organizer))
    assert_error_shape(response)
    assert count(db, Event) == 0


@pytest.mark.parametrize("bound", ["starts_after", "starts_before"])
def test_search_bounds_beyond_the_calendar_in_utc_are_refused(client, bound):
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        assert_error_shape(client.get("/api/v1/events", query_string={bound: value}))


def test_an_event_for_an_unknown_organization_is_refused(client, make_user, auth_header, db):
    body = event_body(organization_id=str(uuid.uuid4()))
    response = client.post("/api/v1/events", json=body, headers=auth_header(make_user("admin")))
    assert_error_shape(response)
    assert response.json["errors"]["reason"] == "unknown_organization"
    assert count(db, Event) == 0


@pytest.mark.parametrize("subject", ["not-a-uuid", ""])
def test_a_token_whose_subject_is_not_an_account_id_is_a_401(
    app, client, subject, make_user, organizer, make_event
):
    event = make_event(organizer)
    with app.app_context():
        token = create_access_token(identity=subject or " ", additional_claims={"role": "admin", "sid": "s"})
    headers = {"Authorization": f"Bearer {token}"}
    booking = {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
    }
    for response in (client.get("/api/v1/auth/me", headers=headers),
                     client.post("/api/v1/bookings", json=booking, headers=headers),
                     client.get(f"/api/v1/bookings/{uuid.uuid4()}", headers=headers),
                     client.get("/api/v1/bookings", headers=headers)):  # fmt: skip
        assert_error_shape(response, [401])


def nested(depth: int, inner: str = "1") -> bytes:
    """`depth` arrays one inside the other, as a JSON document."""
    return ("[" * depth + inner + "]" * depth).encode()


# Deep enough for the decoder's own RecursionError, and deep enough only for a recursive walk
# of the decoded value (the schemas' character check) to fail.
DEPTHS = {"beyond the decoder": 100_000, "within the decoder": 900, "objects": None}


@pytest.mark.parametrize("depth", DEPTHS.values(), ids=DEPTHS.keys())
@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/password-reset",
                                  "/api/v1/auth/verify-email"])  # fmt: skip
def test_deeply_nested_json_is_a_400_from_anyone(client, db, path, depth):
    body = nested(depth) if depth else ('{"email":' * 5000 + '"a@example.test"' + "}" * 5000).encode()
    response = client.post(path, data=body, content_type="application/json")
    assert_error_shape(response)
    assert response.status_code == 400
    assert response.json["errors"]["reason"] == "invalid_json"
    assert count(db, User) == 0


def test_json_nested_as_deep_as_allowed_is_read(client, db):
    body = {"email": "a@example.test", "password": "long-enough-1", "name": "A"}
    padded = {**body, "extra": json.loads(nested(MAX_DEPTH - 1))}
    response = client.post("/api/v1/auth/register", json=padded)
    assert response.status_code == 422  # read, then refused for its unknown field, not its depth
    assert "extra" in response.json["errors"]["json"]


def test_every_blueprint_reads_bodies_through_the_bounded_parser(app):
    blueprints = [bp for bp in app.blueprints.values() if hasattr(bp, "ARGUMENTS_PARSER")]
    assert len(blueprints) > 10
    assert all(isinstance(bp.ARGUMENTS_PARSER, JSONBodyParser) for bp in blueprints)
