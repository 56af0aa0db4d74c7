"""Organizers see the requests the allocation set aside; no price and limit make a booking whose
total the money columns cannot hold (issue 10, item 6)."""

from __future__ import annotations

from sqlalchemy import delete

from core.models import User
from core.services.events import MAX_BOOKING_TOTAL
from tests.conftest import METRICS_AUTH
from tests.integration.booking_helpers import ask, drain


def test_organizers_see_the_dead_letters_of_their_event(
    client, db, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer)
    gone, kept = make_user(), make_user()
    lost = ask(gone, event)
    ask(kept, event)
    with db.unit_of_work() as uow:
        uow.session.execute(delete(User).where(User.id == gone.id))
        uow.commit()
    drain(event)
    url = f"/api/v1/events/{event.id}/dead-letters"
    (letter,) = client.get(url, headers=auth_header(organizer)).json
    assert (letter["booking_id"], letter["user_id"], letter["queue_seq"]) == (str(lost), str(gone.id), 1)
    assert "foreign key" in letter["error"] and letter["request"]["b"] == str(lost)
    assert client.get(url, headers=auth_header(kept)).status_code in (403, 404)
    assert "boxoffice_dead_letters_total 1.0" in client.get("/metrics", headers=METRICS_AUTH).text


def test_a_price_times_the_booking_limit_beyond_the_bound_is_refused(
    client, organizer, make_event, auth_header
):
    event = make_event(organizer, max_per_booking=50, max_per_user=100)
    headers = {**auth_header(organizer), "If-Match": '"1"'}
    too_dear = {"name": "Gold", "price": MAX_BOOKING_TOTAL // 50 + 1, "currency": "EUR", "quota": 5}
    refused = client.post(f"/api/v1/events/{event.id}/ticket-types", json=too_dear, headers=headers)
    assert refused.status_code == 422 and refused.json["errors"]["reason"] == "booking_total_too_large"
    dear = {**too_dear, "price": MAX_BOOKING_TOTAL // 50}
    assert (
        client.post(f"/api/v1/events/{event.id}/ticket-types", json=dear, headers=headers).status_code == 201
    )
    etag = client.get(f"/api/v1/events/{event.id}").headers["ETag"]
    raised = client.patch(f"/api/v1/events/{event.id}", json={"max_per_booking": 51},
                          headers={**headers, "If-Match": etag})  # fmt: skip
    assert raised.status_code == 422 and raised.json["errors"]["reason"] == "booking_total_too_large"
    assert client.get(f"/api/v1/events/{event.id}").json["max_per_booking"] == 50
