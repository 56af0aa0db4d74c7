"""Events over HTTP: organizers create and edit their own; anyone searches published ones."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import icalendar
import pytest

from core.errors import Invalid
from core.models import User, utcnow
from core.services import events


def event_body(**overrides) -> dict:
    starts = utcnow() + dt.timedelta(days=10)
    body = {
        "title": "Jazz by the River",
        "description": "An evening of jazz.",
        "category": "music",
        "venue": "Riverside Hall",
        "address": "2 Quai de la Loire, Paris",
        "latitude": 48.8566,
        "longitude": 2.3522,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=2)).isoformat(),
        "timezone": "Europe/Paris",
        "ticket_types": [
            {"name": "Standard", "price": 2500, "currency": "eur", "quota": 100},
            {
                "name": "VIP",
                "price": 9000,
                "currency": "EUR",
                "quota": 10,
                "surge_price": 12000,
                "surge_threshold": 5,
            },
        ],
    }
    body.update(overrides)
    return body


def test_organizer_creates_a_draft_then_publishes_it(client, organizer, auth_header):
    created = client.post("/api/v1/events", json=event_body(), headers=auth_header(organizer))
    assert created.status_code == 201, created.json
    event = created.json
    assert event["status"] == "draft" and event["version"] == 1
    assert created.headers["ETag"] == '"1"'
    assert [tt["currency"] for tt in event["ticket_types"]] == ["EUR", "EUR"]
    assert event["available"] == 110

    assert client.get(f"/api/v1/events/{event['id']}").status_code == 404  # drafts are not public
    assert client.get(f"/api/v1/events/{event['id']}", headers=auth_header(organizer)).status_code == 200

    published = client.post(f"/api/v1/events/{event['id']}/publish", headers=auth_header(organizer))
    assert published.status_code == 200 and published.json["status"] == "published"
    page = client.get(f"/api/v1/events/{event['id']}").json
    assert {tt["name"]: tt["available"] for tt in page["ticket_types"]} == {"Standard": 100, "VIP": 10}


def test_customer_and_staff_cannot_create_events(client, make_user, auth_header, organizer):
    for user in (make_user(), make_user("staff", organizer.organization_id)):
        response = client.post("/api/v1/events", json=event_body(), headers=auth_header(user))
        assert response.status_code == 403
    assert client.post("/api/v1/events", json=event_body()).status_code == 401


def test_organizer_cannot_touch_another_organizations_event(client, organizer, make_event, make_user,
                                                            make_organization, auth_header):  # fmt: skip
    event = make_event(organizer)
    stranger = make_user("organizer", make_organization("Other Org"))
    headers = {**auth_header(stranger), "If-Match": '"1"'}
    assert (
        client.patch(f"/api/v1/events/{event.id}", json={"title": "Mine now"}, headers=headers).status_code
        == 403
    )
    assert client.post(f"/api/v1/events/{event.id}/unpublish", headers=headers).status_code == 403
    assert client.get(f"/api/v1/events/{event.id}").json["title"] == "Night at the Opera"


def test_edit_with_current_etag_succeeds_and_bumps_the_version(client, organizer, make_event, auth_header):
    event = make_event(organizer)
    etag = client.get(f"/api/v1/events/{event.id}").headers["ETag"]
    response = client.patch(
        f"/api/v1/events/{event.id}",
        json={"title": "New title"},
        headers={**auth_header(organizer), "If-Match": etag},
    )
    assert response.status_code == 200
    assert response.json["title"] == "New title"
    assert response.headers["ETag"] != etag


def test_stale_if_match_is_refused_with_412_and_changes_nothing(client, organizer, make_event, auth_header):
    event = make_event(organizer)
    headers = auth_header(organizer)
    etag = client.get(f"/api/v1/events/{event.id}").headers["ETag"]
    first = client.patch(
        f"/api/v1/events/{event.id}", json={"title": "First"}, headers={**headers, "If-Match": etag}
    )
    assert first.status_code == 200
    stale = client.patch(
        f"/api/v1/events/{event.id}", json={"title": "Second"}, headers={**headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json["errors"]["reason"] == "version_mismatch"
    assert client.get(f"/api/v1/events/{event.id}").json["title"] == "First"


def test_edit_without_if_match_is_refused_with_428(client, organizer, make_event, auth_header):
    event = make_event(organizer)
    response = client.patch(f"/api/v1/events/{event.id}", json={"title": "X"}, headers=auth_header(organizer))
    assert response.status_code == 428
    assert response.json["errors"]["reason"] == "if_match_required"


def test_quota_cannot_drop_below_what_is_held_or_sold(client, organizer, make_event, auth_header, db):
    event = make_event(
        organizer, ticket_types=[{"name": "Standard", "price": 1000, "quota": 10, "held": 3, "sold": 4}]
    )
    ticket_type_id = event.ticket_types[0].id
    headers = {**auth_header(organizer), "If-Match": '"1"'}
    url = f"/api/v1/events/{event.id}/ticket-types/{ticket_type_id}"
    refused = client.patch(url, json={"quota": 6}, headers=headers)
    assert refused.status_code == 409 and refused.json["errors"]["reason"] == "quota_below_allocated"
    assert client.patch(url, json={"quota": 7}, headers=headers).status_code == 200


def test_unpublish_is_refused_once_tickets_are_held(client, organizer, make_event, auth_header):
    event = make_event(organizer, held=2, ticket_types=[{"name": "S", "price": 0, "quota": 5, "held": 2}])
    response = client.post(f"/api/v1/events/{event.id}/unpublish", headers=auth_header(organizer))
    assert response.status_code == 409
    assert response.json["errors"]["reason"] == "event_has_bookings"
    assert client.get(f"/api/v1/events/{event.id}").json["status"] == "published"


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [event["id"] for event in response.json]


def test_search_filters_each_narrow_the_list(client, organizer, make_event):
    now = utcnow()
    jazz = make_event(organizer, title="Jazz Night", category="music", starts_at=now + dt.timedelta(days=2))
    play = make_event(organizer, title="Hamlet", description="A jazz-free tragedy", category="theatre",
                      starts_at=now + dt.timedelta(days=20))  # fmt: skip
    sold_out = make_event(organizer, title="Sold Out Gala", category="music", starts_at=now + dt.timedelta(days=40),
                          ticket_types=[{"name": "S", "price": 100, "quota": 5, "sold": 5}])  # fmt: skip
    make_event(organizer, title="Jazz Draft", status="draft")
    make_event(organizer, title="Jazz Past", starts_at=now - dt.timedelta(days=3))

    assert ids(client.get("/api/v1/events")) == [str(jazz.id), str(play.id), str(sold_out.id)]
    assert ids(client.get("/api/v1/events?q=JAZZ")) == [str(jazz.id), str(play.id)]
    assert ids(client.get("/api/v1/events?category=Music")) == [str(jazz.id), str(sold_out.id)]
    after = (now + dt.timedelta(days=10)).isoformat()
    assert ids(client.get("/api/v1/events", query_string={"starts_after": after})) == [
        str(play.id),
        str(sold_out.id),
    ]
    before = (now + dt.timedelta(days=30)).isoformat()
    assert ids(client.get("/api/v1/events", query_string={"starts_before": before})) == [
        str(jazz.id),
        str(play.id),
    ]
    assert ids(client.get("/api/v1/events?available=true")) == [str(jazz.id), str(play.id)]
    assert ids(client.get("/api/v1/events?available=false")) == [str(sold_out.id)]


def test_search_by_distance(client, organizer, make_event):
    paris = make_event(organizer, title="Paris", latitude=48.8566, longitude=2.3522)
    versailles = make_event(organizer, title="Versailles", latitude=48.8049, longitude=2.1204)  # ~18 km
    make_event(organizer, title="Lyon", latitude=45.7640, longitude=4.8357)  # ~390 km
    make_event(organizer, title="Nowhere")  # no coordinates

    def near(radius):
        query = {"lat": 48.8566, "lng": 2.3522, "radius_km": radius}
        return sorted(ids(client.get("/api/v1/events", query_string=query)))

    assert near(5) == [str(paris.id)]
    assert near(25) == sorted([str(paris.id), str(versailles.id)])
    assert len(near(500)) == 3


def test_search_paginates(client, organizer, make_event):
    for day in range(5):
        make_event(organizer, title=f"Event {day}", starts_at=utcnow() + dt.timedelta(days=day + 1))
    first = client.get("/api/v1/events?page=1&page_size=2")
    assert [event["title"] for event in first.json] == ["Event 0", "Event 1"]
    assert '"total": 5' in first.headers["X-Pagination"]
    third = client.get("/api/v1/events?page=3&page_size=2")
    assert [event["title"] for event in third.json] == ["Event 4"]


@pytest.mark.parametrize(
    "query",
    [{"lat": 10}, {"lat": 10, "lng": 10}, {"radius_km": 5}, {"lat": 91, "lng": 0, "radius_km": 1},
     {"lat": 1, "lng": 1, "radius_km": -1}, {"starts_after": "yesterday"}, {"starts_after": "2030-01-01T00:00:00"},
     {"available": "maybe"}, {"page": 0}, {"page_size": 100000}, {"q": "x" * 300}],
)  # fmt: skip
def test_bad_search_queries_are_422(client, query):
    response = client.get("/api/v1/events", query_string=query)
    assert response.status_code == 422
    assert response.json["errors"]


def test_calendar_file_parses(client, organizer, make_event):
    event = make_event(organizer, title="Night at the Opera", latitude=48.87, longitude=2.33)
    response = client.get(f"/api/v1/events/{event.id}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    [entry] = list(calendar.walk("VEVENT"))
    assert str(entry["summary"]) == "Night at the Opera"
    assert entry.decoded("dtstart") == event.starts_at.replace(
        microsecond=0
    )  # iCalendar counts whole seconds
    assert entry.decoded("dtend") == event.ends_at.replace(microsecond=0)
    assert "Grand Hall" in str(entry["location"])


def test_calendar_of_a_draft_is_404(client, organizer, make_event):
    event = make_event(organizer, status="draft")
    assert client.get(f"/api/v1/events/{event.id}/calendar.ics").status_code == 404


def test_a_page_far_past_the_end_is_empty_not_an_error(client, organizer, make_event):
    make_event(organizer)
    response = client.get("/api/v1/events", query_string={"page": 125917158781341810384961536})
    assert response.status_code == 200 and response.json == []
    assert '"total": 1' in response.headers["X-Pagination"]


def test_the_create_answer_gives_times_in_utc_as_every_later_read_does(client, organizer, auth_header):
    starts = (
        (utcnow() + dt.timedelta(days=10))
        .replace(microsecond=0)
        .astimezone(zoneinfo.ZoneInfo("Europe/Paris"))  # the event's zone, not UTC
    )
    body = event_body(starts_at=starts.isoformat(), ends_at=(starts + dt.timedelta(hours=2)).isoformat())
    created = client.post("/api/v1/events", json=body, headers=auth_header(organizer)).json
    read = client.get(f"/api/v1/events/{created['id']}", headers=auth_header(organizer)).json
    times = ("starts_at", "ends_at", "published_at", "sales_start", "sales_end", "refund_until")
    assert {name: created[name] for name in times} == {name: read[name] for name in times}
    assert created["starts_at"].endswith("+00:00")
    assert dt.datetime.fromisoformat(created["starts_at"]) == starts


def test_capacity_and_currency_cannot_change_under_tickets_already_taken(
    client, organizer, make_event, auth_header
):
    event = make_event(organizer, capacity=10, held=2, sold=3,
                       ticket_types=[{"name": "S", "price": 1000, "quota": 10, "held": 2, "sold": 3}])  # fmt: skip
    headers = {**auth_header(organizer), "If-Match": '"1"'}
    capacity = client.patch(f"/api/v1/events/{event.id}", json={"capacity": 4}, headers=headers)
    assert (capacity.status_code, capacity.json["errors"]["reason"]) == (409, "capacity_below_allocated")
    currency = client.patch(f"/api/v1/events/{event.id}/ticket-types/{event.ticket_types[0].id}",
                            json={"currency": "USD"}, headers=headers)  # fmt: skip
    assert (currency.status_code, currency.json["errors"]["reason"]) == (409, "currency_locked")
    after = client.get(f"/api/v1/events/{event.id}").json
    assert (after["capacity"], after["ticket_types"][0]["currency"]) == (10, "EUR")


def test_the_service_refuses_an_event_without_ticket_types_by_name(db, organizer):
    """The schema refuses it first over HTTP; the service does not rely on that."""
    with db.unit_of_work() as uow, pytest.raises(Invalid) as refused:
        events.create_event(uow, uow.session.get(User, organizer.id), {"ticket_types": []})
    assert refused.value.name == "ticket_types_required"


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "accepted"),
    [("2031-01-15T20:00:00+01:00", "2031-01-15T23:00:00+01:00", True),  # Paris in winter
     ("2031-07-15T20:00:00+02:00", "2031-07-15T23:00:00+02:00", True),  # Paris in summer
     ("2031-01-15T19:00:00Z", "2031-01-15T22:00:00+00:00", True),  # UTC
     ("2031-01-15T20:00:00+02:00", "2031-01-15T23:00:00+02:00", False),  # summer's offset in winter
     ("2031-07-15T20:00:00-04:00", "2031-07-15T23:00:00-04:00", False)],  # another zone's
)  # fmt: skip
def test_event_times_carry_utc_or_the_offset_of_the_events_own_zone(
    client, organizer, auth_header, starts_at, ends_at, accepted
):
    body = event_body(starts_at=starts_at, ends_at=ends_at, timezone="Europe/Paris")
    response = client.post("/api/v1/events", json=body, headers=auth_header(organizer))
    if accepted:
        assert response.status_code == 201, response.json
        return
    assert response.status_code == 422
    assert response.json["errors"]["reason"] == "offset_not_of_timezone"
    assert "Europe/Paris is " in response.json["errors"]["starts_at"][0]


def test_an_edit_is_held_to_the_same_rule_as_a_creation(client, organizer, make_event, auth_header):
    event = make_event(organizer)
    headers = {**auth_header(organizer), "If-Match": f'"{event.version}"'}
    wrong = client.patch(f"/api/v1/events/{event.id}", json={"refund_until": "2031-01-10T12:00:00+02:00"},
                         headers=headers)  # fmt: skip
    assert wrong.status_code == 422 and wrong.json["errors"]["reason"] == "offset_not_of_timezone"
    assert wrong.json["errors"]["refund_until"] == [
        "Europe/Paris is +01:00 at this time, not +02:00: write +01:00, or UTC (Z)."
    ]
