"""The flash-sale benchmark's synchronous baseline books by the engine's own rules.

`bench.sync_baseline` is the reference the sale's latency is compared with: if it drifted from
the engine (or stopped importing, as a rename once made it), the benchmark would compare the
queue with nothing. This books through it and checks the outcome the engine would give."""

from __future__ import annotations

from bench.sync_baseline import create_app
from tests.integration.booking_helpers import assert_counters_agree

CUSTOMERS = 3


def test_the_synchronous_baseline_holds_until_sold_out_and_keeps_the_counters(
    db, settings, organizer, make_event, customers, auth_header
):
    event = make_event(organizer, quota=2)
    ticket_type = event.ticket_types[0]
    client = create_app(settings).test_client()
    answers = [
        client.post(
            "/sync/bookings",
            json={
                "event_id": str(event.id),
                "items": [{"ticket_type_id": str(ticket_type.id), "quantity": 1}],
            },
            headers=auth_header(customer),
        )
        for customer in customers
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert [(a.json["status"], a.json["reason"]) for a in answers] == [
        ("held", None), ("held", None), ("rejected", "sold_out"),
    ]  # fmt: skip
    assert_counters_agree(db, event)
