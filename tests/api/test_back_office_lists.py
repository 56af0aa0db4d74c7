"""The back office's other lists: an event's attendees (and their CSV), an organization's events,
and the admins' lists of organizations and users; with who may not see them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from core.formatting import booking_reference
from core.models import Ticket, utcnow
from core.services import back_office
from tests.back_office_data import add_booking


@pytest.fixture()
def door(db, organizer, make_event, make_user):
    event = make_event(organizer, ticket_types=[{"name": "Standard", "price": 2500, "quota": 100},
                                                {"name": "VIP", "price": 9000, "quota": 10}])  # fmt: skip
    standard, vip = event.ticket_types
    ada = make_user(name="Ada Lovelace", email="ada@example.test")
    bob = make_user(name="@bob", email="bob@example.test")
    first = add_booking(db, event, ada, quantity=2, tickets=True)
    second = add_booking(db, event, bob, ticket_type=vip, tickets=True)
    with db.unit_of_work() as uow:
        ticket = uow.session.query(Ticket).filter_by(booking_id=second.id).one()
        ticket.checked_in_at, ticket.checked_in_by = utcnow(), organizer.id
        uow.commit()
    return event, first, second, vip


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.json
    return response.json


def test_attendees_one_row_per_ticket_with_filters(client, door, organizer, make_user, auth_header):
    event, first, second, vip = door
    url = f"/api/v1/events/{event.id}/attendees"
    staff = auth_header(make_user("staff", organizer.organization_id))
    everyone = rows(client.get(url, headers=staff))
    assert [r["attendee_name"] for r in everyone] == ["@bob", "Ada Lovelace", "Ada Lovelace"]
    bob = everyone[0]
    assert (bob["attendee_email"], bob["ticket_type"], bob["booking_reference"]) == (
        "bob@example.test",
        "VIP",
        booking_reference(second.id),
    )
    assert bob["checked_in_by"] == str(organizer.id) and bob["checked_in_at"]
    assert len(rows(client.get(url, query_string={"checked_in": "false"}, headers=staff))) == 2
    assert [
        r["attendee_name"] for r in rows(client.get(url, query_string={"checked_in": "true"}, headers=staff))
    ] == ["@bob"]
    assert len(rows(client.get(url, query_string={"ticket_type_id": str(vip.id)}, headers=staff))) == 1
    assert len(rows(client.get(url, query_string={"q": "ADA@"}, headers=staff))) == 2
    assert len(rows(client.get(url, query_string={"q": booking_reference(first.id)}, headers=staff))) == 2
    code = everyone[1]["code"]
    dashed = "-".join(code[i : i + 4] for i in range(0, len(code), 4)).lower()
    assert [r["code"] for r in rows(client.get(url, query_string={"q": dashed}, headers=staff))] == [code]


def test_attendees_csv(client, door, organizer, auth_header, monkeypatch):
    event, *_ = door
    monkeypatch.setattr(back_office, "EXPORT_BATCH", 1)
    response = client.get(
        f"/api/v1/events/{event.id}/attendees", headers={**auth_header(organizer), "Accept": "text/csv"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8"))))
    assert list(table[0]) == list(back_office.ATTENDEES_CSV_HEADER)
    assert [r["attendee_name"] for r in table] == ["'@bob", "Ada Lovelace", "Ada Lovelace"]
    assert dt.datetime.fromisoformat(table[0]["checked_in_at"]).utcoffset() == dt.timedelta(0)
    assert table[1]["checked_in_at"] == ""
    assert len({r["ticket_id"] for r in table}) == 3


def test_who_may_not_see_attendees(client, door, organizer, make_user, make_organization, auth_header):
    event, *_ = door
    url = f"/api/v1/events/{event.id}/attendees"
    other = make_organization("Other Org")
    for user in (make_user(), make_user("organizer", other), make_user("staff", other)):
        for accept in ("application/json", "text/csv"):
            response = client.get(
                url, query_string={"q": "ada"}, headers={**auth_header(user), "Accept": accept}
            )
            assert response.status_code == 403 and b"Lovelace" not in response.data
    assert client.get(url).status_code == 401
    assert (
        client.get(url, query_string={"checked_in": "maybe"}, headers=auth_header(organizer)).status_code
        == 422
    )
    assert (
        client.get(url, query_string={"page_size": 1000}, headers=auth_header(organizer)).status_code == 422
    )


def test_organization_events_include_drafts_and_cancelled(client, organizer, make_event, make_user,
                                                          make_organization, auth_header):  # fmt: skip
    soon = utcnow() + dt.timedelta(days=5)
    draft = make_event(organizer, status="draft", title="Draft Gala", starts_at=soon)
    live = make_event(organizer, title="Live Show", starts_at=soon + dt.timedelta(days=1))
    gone = make_event(organizer, status="cancelled", title="Gone Fest", starts_at=soon + dt.timedelta(days=2))
    other = make_organization("Other Org")
    make_event(make_user("organizer", other), title="Not Ours")
    url = f"/api/v1/organizations/{organizer.organization_id}/events"
    for reader in (organizer, make_user("staff", organizer.organization_id), make_user("admin")):
        listed = rows(client.get(url, headers=auth_header(reader)))
        assert [e["id"] for e in listed] == [str(draft.id), str(live.id), str(gone.id)]
    headers = auth_header(organizer)
    assert [
        e["title"] for e in rows(client.get(url, query_string={"status": "cancelled"}, headers=headers))
    ] == ["Gone Fest"]
    assert [e["title"] for e in rows(client.get(url, query_string={"q": "gala"}, headers=headers))] == [
        "Draft Gala"
    ]
    window = {"starts_after": (soon + dt.timedelta(hours=12)).isoformat(),
              "starts_before": (soon + dt.timedelta(days=1, hours=12)).isoformat()}  # fmt: skip
    assert [e["title"] for e in rows(client.get(url, query_string=window, headers=headers))] == ["Live Show"]
    for user in (make_user(), make_user("organizer", other), make_user("staff", other)):
        response = client.get(url, query_string={"q": "gala"}, headers=auth_header(user))
        assert response.status_code == 403 and b"Gala" not in response.data
    assert client.get(url).status_code == 401
    missing = client.get("/api/v1/organizations/00000000-0000-0000-0000-000000000000/events", headers=headers)
    assert missing.status_code == 404
    for bad in ({"status": "live"}, {"starts_after": "soon"}, {"page_size": 101}):
        assert client.get(url, query_string=bad, headers=headers).status_code == 422


def test_admins_list_organizations_and_users(client, organizer, make_user, make_organization, auth_header):
    admin = auth_header(make_user("admin", email="root@example.test"))
    make_organization("Zebra Events")
    staff = make_user("staff", organizer.organization_id, email="door@example.test", name="Door Keeper")
    make_user(email="fan@example.test", name="Big Fan")
    orgs = rows(client.get("/api/v1/organizations", headers=admin))
    assert [o["name"] for o in orgs] == ["Acme Concerts", "Zebra Events"]
    assert [
        o["name"] for o in rows(client.get("/api/v1/organizations", query_string={"q": "zeb"}, headers=admin))
    ] == ["Zebra Events"]
    users = rows(
        client.get(
            "/api/v1/users", query_string={"organization_id": str(organizer.organization_id)}, headers=admin
        )
    )
    assert {u["id"] for u in users} == {str(organizer.id), str(staff.id)}
    assert [
        u["email"] for u in rows(client.get("/api/v1/users", query_string={"role": "staff"}, headers=admin))
    ] == ["door@example.test"]
    assert [
        u["email"] for u in rows(client.get("/api/v1/users", query_string={"q": "big"}, headers=admin))
    ] == ["fan@example.test"]
    assert "password_hash" not in users[0]
    for user in (organizer, staff, make_user()):
        for path in ("/api/v1/organizations", "/api/v1/users"):
            assert client.get(path, query_string={"q": "a"}, headers=auth_header(user)).status_code == 403
    for path in ("/api/v1/organizations", "/api/v1/users"):
        assert client.get(path).status_code == 401
        assert client.get(path, query_string={"page_size": 5000}, headers=admin).status_code == 422
    assert client.get("/api/v1/users", query_string={"role": "king"}, headers=admin).status_code == 422


def test_attendee_pages_follow_the_list_across_boundaries(client, door, organizer, auth_header):
    """A page is found by ids first, then read: pages of one must add up to the whole list in its
    order, also across two tickets of the same name (ordered by id)."""
    event, *_ = door
    url, headers = f"/api/v1/events/{event.id}/attendees", auth_header(organizer)
    whole = [r["ticket_id"] for r in rows(client.get(url, headers=headers))]
    pages = [
        rows(client.get(url, query_string={"page": n, "page_size": 1}, headers=headers)) for n in (1, 2, 3)
    ]
    assert [page[0]["ticket_id"] for page in pages] == whole and len(set(whole)) == 3
    assert all(page[0]["attendee_email"] and page[0]["ticket_type"] for page in pages)
    assert rows(client.get(url, query_string={"page": 4, "page_size": 1}, headers=headers)) == []


def test_attendee_search_by_part_of_a_name_counts_each_ticket_once(client, door, organizer, auth_header):
    event, first, *_ = door
    url, headers = f"/api/v1/events/{event.id}/attendees", auth_header(organizer)
    by_name = client.get(url, query_string={"q": "LOVEL"}, headers=headers)
    assert {r["booking_id"] for r in rows(by_name)} == {str(first.id)} and len(by_name.json) == 2
    # "ada" is in both the attendees' name and their customer's email: still one row per ticket.
    both = client.get(url, query_string={"q": "ada"}, headers=headers)
    assert len(rows(both)) == 2 and json.loads(both.headers["X-Pagination"])["total"] == 2
