"""Ticket tasks: issue the tickets of confirmed bookings; beat's sweep for lost issuing jobs."""

from __future__ import annotations

from core.jobs import Job, Periodic
from core.services import tickets
from worker.celery_app import job_task, periodic_task

SWEEP_SECONDS = 60.0


@job_task(Job.ISSUE_TICKETS)
def issue_tickets(booking_ids: list[str]) -> list[str]:
    return [str(booking_id) for booking_id in tickets.issue_tickets(booking_ids)]


@periodic_task(Periodic.SWEEP_TICKETS, every=SWEEP_SECONDS)
def sweep_tickets() -> list[str]:
    """Confirmed bookings still without tickets a minute later lost their job: issue them now."""
    missing = tickets.confirmed_bookings_without_tickets()
    return [str(booking_id) for booking_id in tickets.issue_tickets(missing)] if missing else []
