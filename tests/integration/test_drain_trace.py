"""The drain trace (`core.drain_trace`): with DRAIN_TRACE set, a request can be followed from the
booking step to its decision made visible, through the task that drained it."""

from __future__ import annotations

import dataclasses
import json
import time

from bench.decision_stages import read_trace, ways
from core import drain_trace, runtime
from tests.jobs import QUEUE, run_jobs


def test_a_traced_request_is_followed_through_its_drain_task_to_its_decision(
    tmp_path, settings, organizer, make_event, customers, monkeypatch, redis_client, client, auth_header
):
    monkeypatch.setattr(runtime, "_settings", dataclasses.replace(settings, drain_trace=str(tmp_path)))
    event = make_event(organizer)
    sent = time.time()
    asked = {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
    }
    booking_id = client.post("/api/v1/bookings", json=asked, headers=auth_header(customers[0])).get_json()[
        "id"
    ]
    (message,) = [json.loads(raw) for raw in redis_client.lrange(QUEUE, 0, -1)]
    assert message["headers"][drain_trace.SENT_HEADER] >= sent  # the drain, stamped when sent
    run_jobs("drain_event")  # run as the worker runs it (but in this process: never received)
    trace = read_trace(tmp_path)
    (way,) = ways({booking_id: sent}, trace)
    _, begun, accepted, _, _, started, locked, read, committed, visible = way.moments
    assert sent < begun < accepted < started <= locked <= read < committed <= visible
    assert trace.tasks[way.batch["i"]]["n"] == "boxoffice.drain_event"
    assert [drain["l"] is not None for drain in trace.drains] == [True]
