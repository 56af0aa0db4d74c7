"""What an organizer changes is what every web process answers by, from the moment it commits.

Two web processes are two copies of `core.event_snapshots`' local cache: the tests swap the
copy in turn, and freeze its clock, so "within the second the copy lives" lasts as long as the
test needs.
"""

from __future__ import annotations

from contextlib import contextmanager

from cachetools import TTLCache

from core import event_snapshots
from core.services import events
from tests.api.test_bookings import body


def _a_process_cache() -> TTLCache:
    return TTLCache(
        maxsize=event_snapshots.LOCAL_EVENTS, ttl=event_snapshots.LOCAL_SECONDS, timer=lambda: 0.0
    )


@contextmanager
def _in_another_process(monkeypatch):
    here = event_snapshots._local
    monkeypatch.setattr(event_snapshots, "_local", _a_process_cache())
    yield
    monkeypatch.setattr(event_snapshots, "_local", here)


def test_an_event_published_in_another_process_is_on_sale_here_at_once(
    client, db, monkeypatch, organizer, make_event, make_user, auth_header
):
    monkeypatch.setattr(event_snapshots, "_local", _a_process_cache())
    event = make_event(organizer, status="draft")
    customer = auth_header(make_user())
    assert client.post("/api/v1/bookings", json=body(event), headers=customer).status_code == 404

    with _in_another_process(monkeypatch), db.unit_of_work() as uow:
        events.publish_event(uow, organizer, event.id)
        uow.commit()

    response = client.post("/api/v1/bookings", json=body(event), headers=customer)
    assert response.status_code == 202, response.json


def test_an_edit_in_another_process_is_answered_by_here_at_once(
    client, db, monkeypatch, organizer, make_event, make_user, auth_header
):
    monkeypatch.setattr(event_snapshots, "_local", _a_process_cache())
    event = make_event(organizer, max_per_booking=2)
    customer = auth_header(make_user())
    refused = client.post("/api/v1/bookings", json=body(event, 4), headers=customer)
    assert refused.json["errors"]["reason"] == "limit_exceeded"

    with _in_another_process(monkeypatch), db.unit_of_work() as uow:
        events.update_event(uow, organizer, event.id, {"max_per_booking": 6}, event.version)
        uow.commit()

    response = client.post("/api/v1/bookings", json=body(event, 4), headers=customer)
    assert response.status_code == 202, response.json


class _PublishedWhileReading:
    """A database whose read of the event is followed, before the snapshot is stored, by the
    organizer publishing it from another process."""

    def __init__(self, db, publish):
        self.db, self.publish = db, publish

    @contextmanager
    def unit_of_work(self):
        with self.db.unit_of_work() as uow:
            yield uow
        self.publish()


def test_a_snapshot_read_before_a_publication_is_never_served_after_it(
    db, monkeypatch, organizer, make_event
):
    event = make_event(organizer, status="draft")

    def publish():
        with _in_another_process(monkeypatch), db.unit_of_work() as uow:
            events.publish_event(uow, organizer, event.id)
            uow.commit()

    raced = event_snapshots.load_event_snapshot(_PublishedWhileReading(db, publish), event.id)

    assert raced.status == "draft"  # what that read saw
    assert event_snapshots.load_event_snapshot(db, event.id, fresh=True).status == "published"


def test_an_organizer_booking_their_own_draft_hears_it_is_a_draft(
    client, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, status="draft")

    response = client.post("/api/v1/bookings", json=body(event), headers=auth_header(organizer))

    assert response.status_code == 409
    assert response.json["errors"]["reason"] == "event_not_published"
    assert "draft" in response.json["message"]
    stranger = client.post("/api/v1/bookings", json=body(event), headers=auth_header(make_user()))
    assert stranger.json["errors"]["reason"] == "not_found"
