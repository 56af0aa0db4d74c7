"""Ticket tasks: issue the tickets of confirmed bookings; beat's sweep for lost issuing jobs."""

from __future__ import annotations

from core.services import tickets
from worker.celery_app import celery_app

SWEEP_SECONDS = 60.0


@celery_app.task(name="boxoffice.issue_tickets")
def issue_tickets(booking_ids: list[str]) -> list[str]:
    return [str(booking_id) for booking_id in tickets.issue_tickets(booking_ids)]


@celery_app.task(name="boxoffice.sweep_tickets")
def sweep_tickets() -> list[str]:
    """Confirmed bookings still without tickets a minute later lost their job: issue them now."""
    missing = tickets.confirmed_bookings_without_tickets()
    return [str(booking_id) for booking_id in tickets.issue_tickets(missing)] if missing else []


celery_app.conf.beat_schedule["sweep-tickets"] = {
    "task": "boxoffice.sweep_tickets",
    "schedule": SWEEP_SECONDS,
}
