"""The audit log: every change an organizer, staff member or admin makes through the API is
recorded with the change (and only if the change is), readable and exportable by the
organization's organizers, and by nobody else; it cannot be changed through the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from core.models import utcnow
from tests.api.test_events import event_body
from tests.back_office_data import add_booking


def log(client, organization_id, headers, **params) -> list[dict]:
    response = client.get(
        f"/api/v1/organizations/{organization_id}/audit-log", query_string=params, headers=headers
    )
    assert response.status_code == 200, response.json
    return response.json


def test_event_changes_are_logged_with_actor_and_changes(client, organizer, auth_header):
    headers = auth_header(organizer)
    event = client.post("/api/v1/events", json=event_body(), headers=headers).json
    url = f"/api/v1/events/{event['id']}"
    edited = client.patch(url, json={"title": "Jazz at Night", "venue": "Riverside Hall"},
                          headers={**headers, "If-Match": '"1"'})  # fmt: skip
    assert edited.status_code == 200
    standard = event["ticket_types"][0]["id"]
    assert client.patch(f"{url}/ticket-types/{standard}", json={"price": 3000},
                        headers={**headers, "If-Match": '"2"'}).status_code == 200  # fmt: skip
    added = client.post(f"{url}/ticket-types", json={"name": "Late", "price": 1000, "currency": "EUR", "quota": 5},
                        headers={**headers, "If-Match": '"3"'})  # fmt: skip
    assert added.status_code == 201
    assert client.post(f"{url}/publish", headers=headers).status_code == 200
    assert client.post(f"{url}/cancel", headers=headers).status_code == 200

    entries = log(client, organizer.organization_id, headers)
    assert [e["action"] for e in entries] == ["event.cancel", "event.publish", "ticket_type.create",
                                              "ticket_type.update", "event.update", "event.create"]  # fmt: skip
    assert all(e["actor"] == {"id": str(organizer.id), "email": organizer.email} for e in entries)
    assert entries[4]["changes"] == {
        "title": ["Jazz by the River", "Jazz at Night"]
    }  # the venue did not change
    assert entries[3]["changes"]["price"] == [2500, 3000] and entries[3]["target_id"] == standard
    assert entries[0]["changes"] == {"status": ["published", "cancelled"]}
    assert entries[-1]["target_id"] == event["id"] and entries[-1]["changes"]["title"] == "Jazz by the River"
    assert dt.datetime.fromisoformat(entries[0]["at"]).utcoffset() == dt.timedelta(0)

    assert [e["action"] for e in log(client, organizer.organization_id, headers, action="event.publish")] == [
        "event.publish"
    ]
    assert len(log(client, organizer.organization_id, headers, target_id=event["id"])) == 4
    assert len(log(client, organizer.organization_id, headers, actor_id=str(organizer.id))) == 6
    assert (
        log(
            client, organizer.organization_id, headers, after=(utcnow() + dt.timedelta(minutes=1)).isoformat()
        )
        == []
    )
    assert len(log(client, organizer.organization_id, headers, before=(utcnow() + dt.timedelta(minutes=1)).isoformat(),
                   page_size=2)) == 2  # fmt: skip

    exported = client.get(f"/api/v1/organizations/{organizer.organization_id}/audit-log",
                          query_string={"target_id": event["id"]}, headers={**headers, "Accept": "text/csv"})  # fmt: skip
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8"))))
    assert [row["action"] for row in table] == [
        "event.cancel",
        "event.publish",
        "event.update",
        "event.create",
    ]
    assert json.loads(table[2]["changes"]) == {"title": ["Jazz by the River", "Jazz at Night"]}


def test_a_refused_change_leaves_no_entry(client, organizer, make_event, auth_header):
    event = make_event(organizer, status="draft")
    headers = {**auth_header(organizer), "If-Match": '"1"'}
    # The rule is checked after the entry is added: the rollback takes both away.
    refused = client.patch(
        f"/api/v1/events/{event.id}", json={"ends_at": event.starts_at.isoformat()}, headers=headers
    )
    assert refused.status_code in (409, 422)
    stale = client.patch(
        f"/api/v1/events/{event.id}", json={"title": "x"}, headers={**headers, "If-Match": '"9"'}
    )
    assert stale.status_code == 412
    assert log(client, organizer.organization_id, auth_header(organizer)) == []


def test_roles_check_ins_and_organizer_cancellations_are_logged(client, db, organizer, make_event, make_user,
                                                                auth_header, mail_sink):  # fmt: skip
    admin = make_user("admin")
    hire = make_user(email="hire@example.test")
    promoted = client.patch(f"/api/v1/users/{hire.id}", headers=auth_header(admin),
                            json={"role": "staff", "organization_id": str(organizer.organization_id)})  # fmt: skip
    assert promoted.status_code == 200
    event = make_event(organizer, price=0)
    customer = make_user()
    mine = add_booking(db, event, customer, tickets=True)
    theirs = add_booking(db, event, customer, tickets=True)
    code = client.get(f"/api/v1/events/{event.id}/attendees", headers=auth_header(organizer)).json[0]["code"]
    assert (
        client.post(
            f"/api/v1/events/{event.id}/checkins", json={"code": code}, headers=auth_header(hire)
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/events/{event.id}/checkins", json={"code": code}, headers=auth_header(hire)
        ).status_code
        == 409
    )
    assert (
        client.post(f"/api/v1/bookings/{mine.id}/cancel", headers=auth_header(organizer)).status_code == 200
    )
    assert (
        client.post(f"/api/v1/bookings/{theirs.id}/cancel", headers=auth_header(customer)).status_code == 200
    )

    entries = log(client, organizer.organization_id, auth_header(organizer))
    assert [e["action"] for e in entries] == ["booking.cancel", "ticket.check_in", "user.update"]
    cancel, check_in, role = entries
    assert cancel["target_id"] == str(mine.id) and cancel["changes"]["status"] == ["confirmed", "cancelled"]
    assert check_in["actor"]["id"] == str(hire.id) and check_in["changes"]["code"] == code
    assert role["actor"]["id"] == str(admin.id)
    assert role["changes"] == {
        "role": ["customer", "staff"],
        "organization_id": [None, str(organizer.organization_id)],
    }


def test_who_may_not_read_the_log_and_nobody_edits_it(client, organizer, make_user, make_organization, auth_header,
                                                      make_event):  # fmt: skip
    headers = auth_header(organizer)
    client.post("/api/v1/events", json=event_body(title="Secret Gig"), headers=headers)
    url = f"/api/v1/organizations/{organizer.organization_id}/audit-log"
    other = make_organization("Other Org")
    for user in (make_user(), make_user("staff", organizer.organization_id), make_user("organizer", other),
                 make_user("staff", other)):  # fmt: skip
        for accept in ("application/json", "text/csv"):
            response = client.get(url, query_string={"action": "event.create"},
                                  headers={**auth_header(user), "Accept": accept})  # fmt: skip
            assert response.status_code == 403 and b"Secret" not in response.data
    assert client.get(url).status_code == 401
    assert (
        client.get(
            "/api/v1/organizations/00000000-0000-0000-0000-000000000000/audit-log", headers=headers
        ).status_code
        == 404
    )
    assert len(client.get(url, headers=auth_header(make_user("admin"))).json) == 1
    for method in (client.put, client.patch, client.delete, client.post):
        assert method(url, json={}, headers=headers).status_code == 405
    for bad in ({"action": "event.delete"}, {"after": "last week"}, {"before": "2030-01-01T00:00:00"},
                {"actor_id": "me"}, {"page_size": 10_000}):  # fmt: skip
        assert client.get(url, query_string=bad, headers=headers).status_code == 422, bad
