"""What happens after a booking changes: background jobs, sent only once the change is committed.

Jobs carry lists of booking ids, so a batch of hundreds of decisions costs one message, not hundreds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from core import runtime
from core.db import UnitOfWork


def _ids(bookings: Iterable) -> list[str]:
    return [str(getattr(booking, "id", booking)) for booking in bookings]


def _after_commit(uow: UnitOfWork, job: str, bookings: Iterable, **kwargs) -> None:
    ids = _ids(bookings)
    if ids:
        uow.after_commit(lambda: runtime.dispatch(job, booking_ids=ids, **kwargs))


def bookings_promoted(uow: UnitOfWork, bookings: Iterable) -> None:
    """Waitlisted customers who now hold tickets are told, with a fresh hold to pay within."""
    _after_commit(uow, "send_booking_emails", bookings, kind="waitlist_promoted")


def holds_expired(uow: UnitOfWork, bookings: Iterable[uuid.UUID]) -> None:
    _after_commit(uow, "send_booking_emails", bookings, kind="hold_expired")
