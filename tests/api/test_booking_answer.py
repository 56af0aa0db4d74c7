"""The 202 of `POST /bookings`, byte for byte: the view builds it by hand for speed (see
`api.resources.bookings.Bookings.post`), so what the schema used to write is pinned here."""

from __future__ import annotations

import json


def _body(event) -> dict:
    return {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
    }


def _assert_accepted(answer, booking_id: str, position: int) -> None:
    assert answer.status_code == 202
    assert answer.mimetype == "application/json"
    assert answer.get_data(as_text=True) == (
        json.dumps({"id": booking_id, "queue_position": position, "status": "queued"}, separators=(",", ":"))
        + "\n"
    )
    assert answer.headers["Location"] == f"/api/v1/bookings/{booking_id}"
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["Content-Length"] == str(len(answer.get_data()))


def test_the_202_is_the_schemas_answer(client, organizer, make_event, make_user, auth_header):
    event = make_event(organizer)
    first = client.post("/api/v1/bookings", json=_body(event), headers=auth_header(make_user()))
    _assert_accepted(first, first.json["id"], 1)
    second = client.post("/api/v1/bookings", json=_body(event), headers=auth_header(make_user()))
    _assert_accepted(second, second.json["id"], 2)


def test_a_replayed_request_gets_the_same_answer(client, organizer, make_event, make_user, auth_header):
    event = make_event(organizer)
    headers = {**auth_header(make_user()), "Idempotency-Key": "answer-1"}
    first = client.post("/api/v1/bookings", json=_body(event), headers=headers)
    again = client.post("/api/v1/bookings", json=_body(event), headers=headers)
    _assert_accepted(first, first.json["id"], 1)
    _assert_accepted(again, first.json["id"], 1)
