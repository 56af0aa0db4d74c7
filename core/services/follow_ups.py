"""What happens after a booking changes: background jobs, sent only once the change is committed.

Jobs carry lists of ids, so a batch of hundreds of decisions costs one message, not hundreds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from core import runtime
from core.db import UnitOfWork
from core.jobs import Job
from core.statuses import BookingStatus


def _ids(items: Iterable) -> list[str]:
    return [str(getattr(item, "id", item)) for item in items]


def _after_commit(uow: UnitOfWork, job: Job, items: Iterable, ids_as: str = "booking_ids", **kwargs) -> None:
    ids = _ids(items)
    if ids:
        uow.after_commit(lambda: runtime.dispatch(job, **{ids_as: ids}, **kwargs))


def bookings_held(uow: UnitOfWork, bookings: Iterable) -> None:
    """New holds get their checkout at once, so the customer can pay within the hold."""
    _after_commit(uow, Job.PREPARE_CHECKOUTS, bookings)


def bookings_promoted(uow: UnitOfWork, bookings: Iterable) -> None:
    """Waitlisted customers who now hold tickets are told, with a checkout to pay within the hold;
    free tickets are confirmed on the spot and go straight to the ticket side."""
    bookings = list(bookings)
    held = [booking for booking in bookings if booking.status == BookingStatus.HELD]
    _after_commit(uow, Job.PREPARE_CHECKOUTS, held, notify="waitlist_promoted")
    bookings_confirmed(uow, [booking for booking in bookings if booking.status == BookingStatus.CONFIRMED])


def bookings_confirmed(uow: UnitOfWork, bookings: Iterable) -> None:
    """Confirmed bookings (paid, or free) get their tickets."""
    _after_commit(uow, Job.ISSUE_TICKETS, bookings)


def holds_expired(uow: UnitOfWork, bookings: Iterable[uuid.UUID]) -> None:
    bookings = list(bookings)
    _after_commit(uow, Job.SEND_BOOKING_EMAILS, bookings, kind="hold_expired")
    holds_released(uow, bookings)


def holds_released(uow: UnitOfWork, bookings: Iterable) -> None:
    """A hold that ended must not stay payable: its checkout is closed at the provider."""
    _after_commit(uow, Job.EXPIRE_CHECKOUTS, bookings)


def refunds_queued(uow: UnitOfWork, refunds: Iterable) -> None:
    _after_commit(uow, Job.ISSUE_REFUNDS, refunds, ids_as="refund_ids")


def customers_told(uow: UnitOfWork, bookings: Iterable, kind: str) -> None:
    """Each booking's customer gets the email `kind` (a refund, a cancelled event...)."""
    _after_commit(uow, Job.SEND_BOOKING_EMAILS, bookings, kind=kind)


def event_cancelled(uow: UnitOfWork, event_id: uuid.UUID) -> None:
    uow.after_commit(lambda: runtime.dispatch(Job.SETTLE_CANCELLED_EVENT, event_id=str(event_id)))


def tickets_issued(uow: UnitOfWork, bookings: Iterable) -> None:
    """The customer gets the tickets as a PDF by email."""
    _after_commit(uow, Job.SEND_BOOKING_EMAILS, bookings, kind="tickets_issued")
