"""The mail task run as the worker runs it (eagerly here), against a real SMTP sink: which
failures it retries, how far apart, and when it gives up."""

from __future__ import annotations

import pytest
from celery.signals import task_retry

from core.jobs import Job
from tests.integration.booking_helpers import ask, drain, issue_tickets


@pytest.fixture()
def ticketed(db, organizer, make_event, make_user):
    """A customer's confirmed free booking with its tickets issued, not yet mailed."""
    customer = make_user()
    event = make_event(organizer, price=0)
    booking_id = ask(customer, event, 1)
    drain(event)
    issue_tickets(db, [booking_id])
    return customer, booking_id


def run_mail_task(booking_id):
    """Run the task with its retries; returns its result and the delay each retry asked for."""
    from worker import app

    delays = []

    def record(reason=None, **_kwargs):
        delays.append(reason.when)

    task_retry.connect(record, weak=False)
    try:
        result = app.tasks[Job.SEND_BOOKING_EMAILS.task_name].apply(
            kwargs={"kind": "tickets_issued", "booking_ids": [str(booking_id)]}
        )
    finally:
        task_retry.disconnect(record)
    return result, delays


def test_a_deferred_mail_is_retried_with_doubling_delays_then_given_up(ticketed, mail_sink):
    customer, booking_id = ticketed
    mail_sink.refuse(customer.email, "451 4.3.0 Mailbox busy, try again later")
    result, delays = run_mail_task(booking_id)
    assert delays == [10, 20, 40, 80, 160, 320, 640, 1280]
    assert result.failed() and "MailDeliveryError" in result.traceback
    assert mail_sink.received == []


def test_a_refused_mail_is_given_up_without_a_retry(ticketed, mail_sink):
    customer, booking_id = ticketed
    mail_sink.refuse(customer.email, "550 5.1.1 No such mailbox here")
    result, delays = run_mail_task(booking_id)
    assert delays == []
    assert result.successful() and result.result == 0
    assert mail_sink.received == []
