"""Hidden ticket types, a type's own sales window and minimum: shown and sold only as allowed."""

from __future__ import annotations

import datetime as dt

from core.models import utcnow
from tests.integration.booking_helpers import drain, load, queue_length
from tests.integration.voucher_helpers import make_voucher


def types(public=10, hidden=5, **hidden_fields) -> list[dict]:
    return [{"name": "Standard", "price": 2500, "quota": public},
            {"name": "Backstage", "price": 9000, "quota": hidden, "hidden": True, **hidden_fields}]  # fmt: skip


def booking(event, ticket_type, quantity=1, code=None) -> dict:
    body = {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(ticket_type.id), "quantity": quantity}],
    }
    return {**body, "voucher_code": code} if code else body


def test_hidden_types_are_not_shown_to_the_public(client, organizer, make_event, auth_header):
    event = make_event(organizer, ticket_types=types())
    public = client.get(f"/api/v1/events/{event.id}").json
    assert [tt["name"] for tt in public["ticket_types"]] == ["Standard"]
    assert public["available"] == 10
    [listed] = client.get("/api/v1/events").json
    assert [tt["name"] for tt in listed["ticket_types"]] == ["Standard"] and listed["available"] == 10
    own = client.get(f"/api/v1/events/{event.id}", headers=auth_header(organizer)).json
    assert [tt["name"] for tt in own["ticket_types"]] == ["Standard", "Backstage"]
    calendar = client.get(f"/api/v1/events/{event.id}/calendar.ics").get_data(as_text=True)
    assert "Backstage" not in calendar


def test_search_for_available_events_ignores_hidden_tickets(client, organizer, make_event):
    make_event(organizer, ticket_types=types(public=0, hidden=5))
    assert client.get("/api/v1/events?available=true").json == []
    assert len(client.get("/api/v1/events?available=false").json) == 1


def test_a_code_that_unlocks_shows_the_hidden_type_with_its_discounted_price(
    client, db, organizer, make_event
):
    event = make_event(organizer, ticket_types=types())
    backstage = event.ticket_types[1]
    make_voucher(db, organizer, event, "CREW-PASS", discount={"percent": 50}, unlocks_hidden=True,
                 ticket_type_ids=[backstage.id])  # fmt: skip
    make_voucher(db, organizer, event, "PLAIN-10", discount={"percent": 10})
    unlocked = client.get(f"/api/v1/events/{event.id}?voucher=crew-pass").json
    assert [(tt["name"], tt["price"]) for tt in unlocked["ticket_types"]] == [
        ("Standard", 2500),
        ("Backstage", 4500),
    ]
    assert unlocked["available"] == 15
    plain = client.get(f"/api/v1/events/{event.id}?voucher=PLAIN-10").json
    assert [(tt["name"], tt["price"]) for tt in plain["ticket_types"]] == [("Standard", 2250)]
    assert client.get(f"/api/v1/events/{event.id}?voucher=NOPE").status_code == 422


def test_a_hidden_type_is_sold_only_with_a_code_that_unlocks_it(client, db, organizer, make_event, make_user,
                                                                  auth_header):  # fmt: skip
    event = make_event(organizer, ticket_types=types())
    backstage = event.ticket_types[1]
    make_voucher(db, organizer, event, "CREW-PASS", discount={"percent": 0}, unlocks_hidden=True)
    make_voucher(db, organizer, event, "PLAIN-10", discount={"percent": 10})
    customer = auth_header(make_user())
    for code in (None, "PLAIN-10"):
        refused = client.post("/api/v1/bookings", json=booking(event, backstage, code=code), headers=customer)
        assert refused.status_code == 422 and refused.json["errors"]["reason"] == "unknown_ticket_type"
    assert queue_length(event) == 0
    accepted = client.post(
        "/api/v1/bookings", json=booking(event, backstage, code="CREW-PASS"), headers=customer
    )
    assert accepted.status_code == 202
    drain(event)
    assert load(db, accepted.json["id"]).status == "held"


def test_a_types_own_sales_window_and_minimum(client, db, organizer, make_event, make_user, auth_header):
    later = utcnow() + dt.timedelta(days=2)
    event = make_event(organizer, ticket_types=[
        {"name": "Early", "price": 1000, "quota": 10, "sales_end": utcnow() - dt.timedelta(hours=1)},
        {"name": "Late", "price": 3000, "quota": 10, "sales_start": later},
        {"name": "Group", "price": 2000, "quota": 20, "min_per_booking": 4},
    ])  # fmt: skip
    early, late, group = event.ticket_types
    customer = auth_header(make_user())
    for ticket_type in (early, late):
        answer = client.post("/api/v1/bookings", json=booking(event, ticket_type), headers=customer)
        assert answer.status_code == 409 and answer.json["errors"]["reason"] == "sales_closed"
    small = client.post("/api/v1/bookings", json=booking(event, group, 3), headers=customer)
    assert small.status_code == 422 and small.json["errors"]["reason"] == "below_min_per_booking"
    assert queue_length(event) == 0
    assert client.post("/api/v1/bookings", json=booking(event, group, 4), headers=customer).status_code == 202


def test_ticket_type_fields_are_validated(client, organizer, make_event, auth_header):
    event = make_event(organizer, status="draft")
    headers = {**auth_header(organizer), "If-Match": '"1"'}
    bad = [{"min_per_booking": 0}, {"hidden": "maybe"},
           {"sales_start": "2030-01-02T00:00:00+00:00", "sales_end": "2030-01-01T00:00:00+00:00"}]  # fmt: skip
    for fields in bad:
        body = {"name": "VIP", "price": 100, "currency": "EUR", "quota": 5, **fields}
        answer = client.post(f"/api/v1/events/{event.id}/ticket-types", json=body, headers=headers)
        assert answer.status_code == 422, fields
    assert (
        len(client.get(f"/api/v1/events/{event.id}", headers=auth_header(organizer)).json["ticket_types"])
        == 1
    )
