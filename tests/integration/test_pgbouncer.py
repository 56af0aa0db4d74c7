"""The API and the drainer through PgBouncer in transaction mode (`tests.pooler`): many clients
on two server connections, each transaction on whichever is free. Nothing relies on session
state (no session `SET`, advisory lock, prepared statement or `WITH HOLD` cursor), so the
rules hold as they do on a direct connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from core import runtime
from core.services import holds
from tests.api.test_bookings import body
from tests.faults import app_on
from tests.integration.booking_helpers import assert_counters_agree, drain, statuses


def test_a_sale_through_pgbouncer_in_transaction_mode(
    settings, app, pgbouncer_url, organizer, make_event, make_user, auth_header
):
    events = [make_event(organizer, quota=5) for _ in range(4)]
    customers = [auth_header(make_user()) for _ in range(8)]
    with app_on(settings, app, database_url=pgbouncer_url) as client:
        assert runtime.database().engine.url.port != sa.engine.make_url(settings.database_url).port
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(
                lambda pair: client.post("/api/v1/bookings", json=body(pair[0], join_waitlist=True), headers=pair[1]),
                [(event, customer) for event in events for customer in customers],
            ))  # fmt: skip
            assert {answer.status_code for answer in answers} == {202}
            # Four drainers at once on the pooler's two server connections, each locking its event's
            # inventory.
            assert sum(report.decided for report in pool.map(drain, events)) == 32
        holds.expire_holds(runtime.database())
        # The eight requests of an event raced, so which five hold is not known: read them all back.
        polled = [
            client.get(f"/api/v1/bookings/{answer.json['id']}", headers=customer).json["status"]
            for answer, customer in zip(answers[: len(customers)], customers, strict=True)
        ]
        assert sorted(polled) == ["held"] * 5 + ["waitlisted"] * 3
        with runtime.database().engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar() == 1
    assert runtime.database().engine.url.port != sa.engine.make_url(pgbouncer_url).port
    for event in events:
        assert sorted(statuses(runtime.database(), event).values()) == ["held"] * 5 + ["waitlisted"] * 3
        assert assert_counters_agree(runtime.database(), event)["held"] == 5
