"""A Prometheus scrape reads Redis: the count of unpaid holds is shared and refreshed, not
counted in PostgreSQL on every scrape."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa

from tests.api.test_bookings import body
from tests.integration.booking_helpers import drain


@contextlib.contextmanager
def statements(db):
    """The SQL statements the test database receives inside the block."""
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_scrapes_share_one_count_of_holds_until_a_batch_makes_new_ones(
    client, db, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, quota=5)
    client.post("/api/v1/bookings", json=body(event), headers=auth_header(make_user()))
    assert "boxoffice_held_bookings 0.0" in scrape(client)
    with statements(db) as sql:
        for _ in range(3):
            text = scrape(client)
    assert sql == []
    assert "boxoffice_queued_requests 1.0" in text
    drain(event)
    with statements(db) as sql:
        assert "boxoffice_held_bookings 1.0" in scrape(client)
    assert len(sql) == 1
