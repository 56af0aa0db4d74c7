"""The request id: taken from a well-formed `X-Request-ID` or made up, echoed in the answer,
queued with a booking request (so the drainer's log line names it), and sent with every task
the request causes."""

from __future__ import annotations

import logging

import pytest
from celery.signals import before_task_publish

from core import request_ids
from core.jobs import Periodic
from tests.api.test_bookings import body
from tests.integration.booking_helpers import drain
from worker.celery_app import celery_app


@pytest.mark.parametrize("sent", ["req-2026-12-03-0001", "0b7c2f1e9d8a4c3b", "edge:proxy.1_abc"])
def test_a_well_formed_request_id_is_echoed(client, sent):
    assert client.get("/healthz", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", [None, "", "short", "has spaces in it", "x" * 129, "semi;colon-in-it"])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(client, sent):
    headers = {} if sent is None else {"X-Request-ID": sent}
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert first != sent and len(first) == 32 and first != second


def test_the_drain_log_line_names_the_bookings_request_id(
    client, organizer, make_event, make_user, auth_header, caplog
):
    """(The web's line of the request is gunicorn's: tests/e2e/test_request_id_logs.py.)"""
    event = make_event(organizer, quota=5)
    caplog.set_level(logging.INFO)
    answer = client.post("/api/v1/bookings", json=body(event), headers={**auth_header(make_user()),
                                                                         "X-Request-ID": "booking-request-0001"})  # fmt: skip
    booking_id = answer.get_json()["id"]
    drain(event)
    [drain_line] = [r for r in caplog.records if hasattr(r, "bookings")]
    assert drain_line.bookings == [
        {"booking_id": booking_id, "request_id": "booking-request-0001", "status": "held", "reason": None}
    ]


def test_a_task_sent_while_handling_a_request_carries_its_id(
    client, organizer, make_event, make_user, auth_header
):
    sent = []

    def record(sender=None, headers=None, **_kwargs):
        sent.append((sender, headers.get("request_id")))

    before_task_publish.connect(record, weak=False)
    try:
        event = make_event(organizer, quota=5)
        client.post("/api/v1/bookings", json=body(event),
                    headers={**auth_header(make_user()), "X-Request-ID": "booking-request-0002"})  # fmt: skip
    finally:
        before_task_publish.disconnect(record)
    assert sent == [("boxoffice.drain_event", "booking-request-0002")]
    assert request_ids.current() is None  # unbound once the request ended


def test_a_task_run_eagerly_inside_a_request_leaves_the_requests_id_bound(settings):
    token = request_ids.bind("outer-request-0003")
    try:
        celery_app.tasks[Periodic.SWEEP_ALLOCATION_QUEUES.task_name].apply().get()
        assert request_ids.current() == "outer-request-0003"
    finally:
        request_ids.unbind(token)
