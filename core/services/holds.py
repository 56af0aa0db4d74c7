"""Hold expiry: unpaid holds past their time go back to inventory, and on to the waitlist.

Run by beat every few seconds. Each event is handled in chunks, each chunk one transaction
under the event's inventory lock — the same lock the drainer takes — so tickets coming back
are promoted to the waitlist before the drainer can give them to a newer request.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update

from core import runtime
from core.inventory import Line, lock_inventory
from core.models import Booking, BookingLine, Event, utcnow
from core.services import follow_ups
from core.services.waitlist import promote_waitlist

CHUNK = 5000


@dataclass
class ExpiryReport:
    expired_holds: int = 0
    expired_waitlist: int = 0
    promoted: int = 0


def expire_holds(now: dt.datetime | None = None, chunk: int = CHUNK) -> ExpiryReport:
    now = now or utcnow()
    report = ExpiryReport()
    db = runtime.database()
    with db.unit_of_work() as uow:
        event_ids = uow.session.scalars(
            select(Booking.event_id)
            .where(Booking.status == "held", Booking.hold_expires_at <= now)
            .distinct()
        ).all()
    for event_id in event_ids:
        while _expire_chunk(event_id, now, chunk, report) == chunk:
            pass
    report.expired_waitlist = _expire_waitlists_of_started_events(now)
    return report


def _expire_chunk(event_id: uuid.UUID, now: dt.datetime, chunk: int, report: ExpiryReport) -> int:
    with runtime.database().unit_of_work() as uow:
        inventory = lock_inventory(uow, event_id)
        due = (
            select(Booking.id)
            .where(Booking.event_id == event_id, Booking.status == "held", Booking.hold_expires_at <= now)
            .order_by(Booking.hold_expires_at)
            .limit(chunk)
            .scalar_subquery()
        )
        expired = uow.session.scalars(
            update(Booking)
            .where(Booking.id.in_(due))
            .values(status="expired", updated_at=now)
            .returning(Booking.id)
            .execution_options(synchronize_session=False)
        ).all()
        if not expired:
            return 0
        released = uow.session.execute(
            select(BookingLine.ticket_type_id, func.sum(BookingLine.quantity))
            .where(BookingLine.booking_id.in_(expired))
            .group_by(BookingLine.ticket_type_id)
        )
        inventory.release_held([Line(ticket_type_id, int(quantity)) for ticket_type_id, quantity in released])
        promoted = promote_waitlist(uow, inventory, now)
        follow_ups.holds_expired(uow, expired)
        follow_ups.bookings_promoted(uow, promoted)
        uow.commit()
    report.expired_holds += len(expired)
    report.promoted += len(promoted)
    return len(expired)


def _expire_waitlists_of_started_events(now: dt.datetime) -> int:
    """Nobody can be served once the event has started: its waitlist ends."""
    with runtime.database().unit_of_work() as uow:
        started = select(Event.id).where(Event.starts_at <= now).scalar_subquery()
        result = uow.session.execute(
            update(Booking)
            .where(Booking.status == "waitlisted", Booking.event_id.in_(started))
            .values(status="expired", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
        return result.rowcount
