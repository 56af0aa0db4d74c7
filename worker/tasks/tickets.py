"""Ticket tasks: issue the tickets of confirmed bookings; beat's sweep for lost issuing jobs."""

from __future__ import annotations

from core import runtime
from core.jobs import Job, Periodic
from core.services import tickets
from worker.celery_app import job_task, periodic_task

SWEEP_SECONDS = 60.0


@job_task(Job.ISSUE_TICKETS)
def issue_tickets(booking_ids: list[str]) -> list[str]:
    with runtime.database().unit_of_work() as uow:
        issued = tickets.issue_tickets(uow, booking_ids)
        uow.commit()
    return [str(booking_id) for booking_id in issued]


@periodic_task(Periodic.SWEEP_TICKETS, every=SWEEP_SECONDS)
def sweep_tickets() -> list[str]:
    """Confirmed bookings still without tickets a minute later lost their job: issue them now."""
    with runtime.database().unit_of_work() as uow:
        missing = tickets.confirmed_bookings_without_tickets(uow)
        issued = tickets.issue_tickets(uow, missing) if missing else []
        uow.commit()
    return [str(booking_id) for booking_id in issued]
