"""A booking's request id, followed through the real processes: gunicorn from the Procfile logs
it on the booking request's one JSON line (`RequestLog` in gunicorn.conf.py), and the Celery worker (the Procfile's command) logs it on
the drain task's line that decided the booking. That worker sends task events (for Flower)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.processes import answers, free_port, procfile_command, running_logged

pytestmark = pytest.mark.e2e


def json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def drain_lines(worker_log: str, booking_id: str) -> list[dict]:
    return [line for line in json_lines(worker_log)
            if any(b["booking_id"] == booking_id for b in line.get("bookings", []))]  # fmt: skip


def test_a_bookings_request_id_is_on_the_webs_line_and_on_the_drain_tasks_line(
    stack_env, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, quota=5)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    worker_command = (
        f"{procfile_command('worker').split(' --concurrency')[0]} --concurrency 1 --without-gossip"
    )
    with (
        running_logged(procfile_command("web"), stack_env(PORT=str(port), WEB_CONCURRENCY="2"),
                       answers(f"{base}/healthz")) as web,
        running_logged(worker_command, stack_env(), lambda: True) as worker,
    ):  # fmt: skip
        answer = requests.post(f"{base}/api/v1/bookings", timeout=10,
                               json={"event_id": str(event.id), "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}]},
                               headers={**auth_header(make_user()), "X-Request-ID": "e2e-booking-request-42"})  # fmt: skip
        assert answer.status_code == 202 and answer.headers["X-Request-ID"] == "e2e-booking-request-42"
        booking_id = answer.json()["id"]
        deadline = time.monotonic() + 60
        while not drain_lines(worker.log_text(), booking_id):
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.2)
        web_log, worker_log = web.log_text(), worker.log_text()
    assert "task events: ON" in worker_log  # the Procfile's -E: Flower sees the tasks
    # One line for the request, gunicorn's, in JSON (no text access line beside it).
    assert [
        line for line in web_log.splitlines() if "/api/v1/bookings" in line and not line.startswith("{")
    ] == []
    [web_line] = [line for line in json_lines(web_log) if line.get("path") == "/api/v1/bookings"]
    assert {key: web_line[key] for key in ("logger", "request_id", "status", "method", "remote_addr")} == {
        "logger": "api.requests",
        "request_id": "e2e-booking-request-42",
        "status": 202,
        "method": "POST",
        "remote_addr": "127.0.0.1",
    }
    assert web_line["duration_ms"] > 0
    [drain_line] = drain_lines(worker_log, booking_id)
    assert drain_line["logger"] == "core.metrics"
    # The drain task was sent by this request, so the whole line is in its name, and so is the booking.
    assert drain_line["request_id"] == "e2e-booking-request-42"
    assert drain_line["bookings"] == [
        {"booking_id": booking_id, "request_id": "e2e-booking-request-42", "status": "held", "reason": None}
    ]
