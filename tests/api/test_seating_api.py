"""Reserved seating over HTTP: the plan and its refusals, blocking, booking seats (best available
and chosen), the seat map with its two vocabularies and its ETag, and seats on tickets."""

from __future__ import annotations

import math
import uuid

from tests.integration.booking_helpers import drain
from tests.integration.payment_helpers import pay_on_local_page
from tests.integration.seating_helpers import seat_ids, seated_event
from tests.jobs import run_jobs


def seated_type_event(make_event, organizer):
    return make_event(organizer, ticket_types=[{"name": "Stalls", "price": 2500, "quota": 0, "seated": True},
                                               {"name": "Standing", "price": 1500, "quota": 50}])  # fmt: skip


def block(stalls, rows=2, seats=3, **extra):
    return {"name": "Stalls", "rows": rows, "seats_per_row": seats, "ticket_type_id": str(stalls), **extra}


def put_plan(client, header, event, sections, focal=None):
    body = {"focal_point": focal or {"x": 1.0, "y": -2.0}, "sections": sections}
    return client.put(f"/api/v1/events/{event.id}/seating", json=body, headers=header)


def test_a_plan_gives_every_seat_an_id_and_the_seated_type_its_quota(
    client, organizer, make_event, auth_header
):
    event = seated_type_event(make_event, organizer)
    stalls = event.ticket_types[0].id
    answer = put_plan(client, auth_header(organizer), event, [
        block(stalls, rows=2, seats=3),
        {"name": "Box", "rows": [{"name": "1", "seats": [
            {"label": "1", "x": 10.0, "y": 0.0, "ticket_type_id": str(stalls), "accessible": True},
            {"label": "2", "x": 11.0, "y": 0.0, "ticket_type_id": str(stalls), "companion": True, "blocked": True}]}]},
    ])  # fmt: skip
    assert answer.status_code == 200, answer.json
    stalls_rows = answer.json["sections"][0]["rows"]
    assert [row["name"] for row in stalls_rows] == ["A", "B"]
    assert [seat["label"] for seat in stalls_rows[1]["seats"]] == ["1", "2", "3"]
    assert all(uuid.UUID(seat["id"]) for row in stalls_rows for seat in row["seats"])
    box = answer.json["sections"][1]["rows"][0]["seats"]
    assert (box[0]["accessible"], box[1]["companion"], box[1]["blocked"]) == (True, True, True)
    types = {tt["name"]: tt for tt in client.get(f"/api/v1/events/{event.id}").json["ticket_types"]}
    assert (types["Stalls"]["quota"], types["Stalls"]["seated"]) == (7, True)  # 8 seats, one blocked
    assert types["Standing"]["quota"] == 50


def test_bad_plans_are_refused_naming_the_seat(
    client, organizer, make_event, auth_header, make_user, make_organization
):
    event = seated_type_event(make_event, organizer)
    stalls, standing = (str(tt.id) for tt in event.ticket_types)
    header = auth_header(organizer)

    def seat(label, tt=stalls, x=0.0, y=0.0):
        return {"label": label, "x": x, "y": y, "ticket_type_id": tt}

    def one_row(*seats):
        return [{"name": "Stalls", "rows": [{"name": "C", "seats": list(seats)}]}]

    cases = {
        "duplicate_seat": one_row(seat("1"), seat("1", x=1.0)),
        "unseated_ticket_type": one_row(seat("1"), seat("2", tt=standing)),
        "unknown_ticket_type": one_row(seat("1", tt=str(uuid.uuid4()))),
        "invalid_coordinates": one_row(seat("1"), seat("2", x=math.inf)),
    }
    for reason, sections in cases.items():
        answer = put_plan(client, header, event, sections)
        assert (answer.status_code, answer.json["errors"]["reason"]) == (422, reason), answer.json
        if reason != "unknown_ticket_type":
            assert (answer.json["errors"]["row"], answer.json["errors"]["label"]) == (
                "C",
                "2" if reason != "duplicate_seat" else "1",
            )
    huge = put_plan(client, header, event, [block(stalls, rows=1000, seats=101)])
    assert (huge.status_code, huge.json["errors"]["reason"]) == (422, "too_many_seats")
    stranger = auth_header(make_user("organizer", make_organization("Other Concerts")))
    assert put_plan(client, stranger, event, [block(stalls)]).status_code == 403
    assert client.get(f"/api/v1/events/{event.id}/seats").status_code == 404  # nothing was laid out


def test_seats_are_booked_shown_on_the_map_and_the_plan_is_then_locked(client, db, organizer, make_event, make_user,
                                                                         auth_header):  # fmt: skip
    event = seated_event(make_event, organizer, rows=2, seats_per_row=4)
    ids = seat_ids(db, event)
    stalls = str(event.ticket_types[0].id)
    customer, rival = make_user(), make_user()
    chosen = client.post("/api/v1/bookings", headers=auth_header(customer), json={
        "event_id": str(event.id), "items": [{"ticket_type_id": stalls, "seat_ids": [str(ids[("B", "1")])]}]})  # fmt: skip
    best = client.post("/api/v1/bookings", headers=auth_header(rival), json={
        "event_id": str(event.id), "items": [{"ticket_type_id": stalls, "quantity": 2}]})  # fmt: skip
    assert (chosen.status_code, best.status_code) == (202, 202), (chosen.json, best.json)
    drain(event)
    mine = client.get(f"/api/v1/bookings/{chosen.json['id']}", headers=auth_header(customer)).json
    assert mine["status"] == "held"
    assert [(s["row"], s["label"]) for s in mine["items"][0]["seats"]] == [("B", "1")]
    theirs = client.get(f"/api/v1/bookings/{best.json['id']}", headers=auth_header(rival)).json
    # The centre pair would strand A1 and A4: the pair at the row's end, the earlier of two as near.
    assert [(s["row"], s["label"]) for s in theirs["items"][0]["seats"]] == [("A", "1"), ("A", "2")]

    public = client.get(f"/api/v1/events/{event.id}/seats")
    assert public.status_code == 200 and public.headers["ETag"]
    by_id = {seat["id"]: seat for seat in public.json["seats"]}
    assert by_id[str(ids[("B", "1")])]["status"] == "unavailable"
    assert sorted(seat["status"] for seat in public.json["seats"]).count("available") == 5
    assert public.json["focal_point"] == {"x": 1.5, "y": -3.0}
    again = client.get(f"/api/v1/events/{event.id}/seats", headers={"If-None-Match": public.headers["ETag"]})
    assert again.status_code == 304
    staff = client.get(f"/api/v1/events/{event.id}/seats", headers=auth_header(organizer)).json
    assert {seat["status"] for seat in staff["seats"]} == {"available", "held"}
    svg = client.get(f"/api/v1/events/{event.id}/seatmap.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.count(b"data-seat-id=") == 8

    refused = put_plan(client, auth_header(organizer), event, [block(stalls)])
    assert (refused.status_code, refused.json["errors"]["reason"]) == (409, "seating_in_use")
    blocked = client.post(f"/api/v1/events/{event.id}/seats/block", headers=auth_header(organizer),
                          json={"seat_ids": [str(ids[("B", "1")])], "blocked": True})  # fmt: skip
    assert (blocked.status_code, blocked.json["errors"]["reason"]) == (409, "seat_in_use")


def test_unknown_or_foreign_seats_are_a_422_and_change_nothing(
    client, db, organizer, make_event, make_user, auth_header
):
    event = seated_event(make_event, organizer, rows=1, seats_per_row=3)
    other = seated_event(make_event, organizer, rows=1, seats_per_row=3)
    stalls = str(event.ticket_types[0].id)
    foreign = next(iter(seat_ids(db, other).values()))
    for seats in ([str(uuid.uuid4())], [str(foreign)]):
        answer = client.post("/api/v1/bookings", headers=auth_header(make_user()), json={
            "event_id": str(event.id), "items": [{"ticket_type_id": stalls, "seat_ids": seats}]})  # fmt: skip
        assert (answer.status_code, answer.json["errors"]["reason"]) == (422, "unknown_seat"), answer.json
    mismatch = client.post("/api/v1/bookings", headers=auth_header(make_user()), json={
        "event_id": str(event.id), "items": [{"ticket_type_id": stalls, "quantity": 2,
                                              "seat_ids": [str(foreign)]}]})  # fmt: skip
    assert mismatch.status_code == 422
    waiting = client.post("/api/v1/bookings", headers=auth_header(make_user()), json={
        "event_id": str(event.id), "join_waitlist": True,
        "items": [{"ticket_type_id": stalls, "seat_ids": [str(next(iter(seat_ids(db, event).values())))]}]})  # fmt: skip
    assert (waiting.status_code, waiting.json["errors"]["reason"]) == (422, "waitlist_needs_best_available")


def test_blocked_seats_leave_the_quota_and_are_never_allocated(
    client, db, organizer, make_event, make_user, auth_header
):
    event = seated_event(make_event, organizer, rows=1, seats_per_row=4)
    ids = seat_ids(db, event)
    centre = [str(ids[("A", "2")]), str(ids[("A", "3")])]
    answer = client.post(f"/api/v1/events/{event.id}/seats/block", headers=auth_header(organizer),
                         json={"seat_ids": centre, "blocked": True})  # fmt: skip
    assert answer.status_code == 200 and sorted(answer.json["blocked"]) == sorted(centre)
    stalls = client.get(f"/api/v1/events/{event.id}").json["ticket_types"][0]
    assert stalls["quota"] == 2
    chooser = client.post("/api/v1/bookings", headers=auth_header(make_user()), json={
        "event_id": str(event.id), "items": [{"ticket_type_id": str(event.ticket_types[0].id), "seat_ids": centre[:1]}]})  # fmt: skip
    drain(event)
    decided = client.get(f"/api/v1/bookings/{chooser.json['id']}", headers=auth_header(organizer)).json
    assert (decided["status"], decided["reason"]) == ("rejected", "seat_unavailable")
    staff = client.get(f"/api/v1/events/{event.id}/seats", headers=auth_header(organizer)).json
    assert sorted(s["status"] for s in staff["seats"]) == ["available", "available", "blocked", "blocked"]


def test_a_paid_seat_is_on_the_ticket_and_moves_with_it(
    client, db, organizer, make_event, make_user, auth_header
):
    event = seated_event(make_event, organizer, rows=2, seats_per_row=4)
    ids = seat_ids(db, event)
    customer = make_user()
    asked = client.post("/api/v1/bookings", headers=auth_header(customer), json={
        "event_id": str(event.id), "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 2}]})  # fmt: skip
    drain(event)
    run_jobs("prepare_checkouts")
    pay_on_local_page(db, asked.json["id"])
    run_jobs("process_webhook_event", "issue_tickets")
    tickets = client.get(f"/api/v1/bookings/{asked.json['id']}/tickets", headers=auth_header(customer)).json
    assert [t["seat"] for t in tickets] == [{"section": "Stalls", "row": "A", "label": "1"},
                                           {"section": "Stalls", "row": "A", "label": "2"}]  # fmt: skip
    staff = client.get(f"/api/v1/events/{event.id}/seats", headers=auth_header(organizer)).json
    assert sorted(s["status"] for s in staff["seats"]).count("sold") == 2

    moved = client.patch(f"/api/v1/tickets/{tickets[0]['id']}", headers=auth_header(organizer),
                         json={"seat_id": str(ids[("B", "4")])})  # fmt: skip
    assert moved.status_code == 200, moved.json
    assert moved.json["seat"] == {"section": "Stalls", "row": "B", "label": "4"}
    assert moved.json["code"] != tickets[0]["code"]
    taken = client.patch(f"/api/v1/tickets/{tickets[1]['id']}", headers=auth_header(organizer),
                         json={"seat_id": str(ids[("B", "4")])})  # fmt: skip
    assert (taken.status_code, taken.json["errors"]["reason"]) == (409, "seat_unavailable")
    with_a_rename = client.patch(f"/api/v1/tickets/{tickets[1]['id']}", headers=auth_header(organizer),
                                 json={"seat_id": str(ids[("B", "1")]), "attendee_name": "Someone"})  # fmt: skip
    assert (with_a_rename.status_code, with_a_rename.json["errors"]["reason"]) == (422, "seat_move_alone")
    by_customer = client.patch(f"/api/v1/tickets/{tickets[1]['id']}", headers=auth_header(customer),
                               json={"seat_id": str(ids[("B", "1")])})  # fmt: skip
    assert by_customer.status_code == 403
    staff = client.get(f"/api/v1/events/{event.id}/seats", headers=auth_header(organizer)).json
    sold = {(s["row"], s["label"]) for s in staff["seats"] if s["status"] == "sold"}
    assert sold == {("A", "2"), ("B", "4")}

    checked = client.post(f"/api/v1/events/{event.id}/checkins", headers=auth_header(organizer),
                          json={"code": moved.json["qr_payload"]})  # fmt: skip
    assert checked.status_code == 200 and checked.json["seat"] == {
        "section": "Stalls",
        "row": "B",
        "label": "4",
    }
    attendees = client.get(f"/api/v1/events/{event.id}/attendees", headers=auth_header(organizer)).json
    assert sorted(a["seat"] for a in attendees) == ["Stalls, Row A, Seat 2", "Stalls, Row B, Seat 4"]
    csv = client.get(
        f"/api/v1/events/{event.id}/attendees", headers={**auth_header(organizer), "Accept": "text/csv"}
    )
    assert b"Stalls, Row B, Seat 4" in csv.data


def test_a_plan_written_seat_by_seat_may_be_larger_than_other_bodies(
    client, organizer, make_event, auth_header
):
    event = seated_type_event(make_event, organizer)
    stalls = str(event.ticket_types[0].id)
    rows = [{"name": f"R{r}", "seats": [{"label": str(n), "x": float(n), "y": float(r), "ticket_type_id": stalls,
                                         "accessible": False, "companion": False} for n in range(100)]}
            for r in range(80)]  # fmt: skip
    answer = put_plan(client, auth_header(organizer), event, [{"name": "Arena", "rows": rows}])
    assert answer.status_code == 200, answer.json
    assert client.get(f"/api/v1/events/{event.id}").json["ticket_types"][0]["quota"] == 8000


def test_a_seated_types_quota_is_its_seats_not_a_number_typed_in(
    client, db, organizer, make_event, auth_header
):
    event = seated_event(make_event, organizer, rows=1, seats_per_row=4)
    headers = auth_header(organizer)
    url = f"/api/v1/events/{event.id}/ticket-types/{event.ticket_types[0].id}"

    def patch(body):
        etag = client.get(f"/api/v1/events/{event.id}", headers=headers).headers["ETag"]
        return client.patch(url, json=body, headers={**headers, "If-Match": etag})

    typed = patch({"quota": 100})
    assert (typed.status_code, typed.json["errors"]["reason"]) == (422, "quota_set_by_plan")
    unseated = patch({"seated": False})
    assert (unseated.status_code, unseated.json["errors"]["reason"]) == (409, "seated_locked")
    assert patch({"name": "Orchestra"}).status_code == 200
    added = client.post(f"/api/v1/events/{event.id}/ticket-types", headers={**headers, "If-Match": client.get(
        f"/api/v1/events/{event.id}", headers=headers).headers["ETag"]},
        json={"name": "Boxes", "price": 9000, "currency": "EUR", "quota": 12, "seated": True})  # fmt: skip
    assert added.status_code == 201
    boxes = next(tt for tt in added.json["ticket_types"] if tt["name"] == "Boxes")
    assert (boxes["seated"], boxes["quota"]) == (True, 0)  # until the plan gives it seats
