"""Hold expiry: unpaid holds past their time go back to inventory, and on to the waitlist.

Run by beat every few seconds. Each event is handled in chunks, each chunk one transaction
under the event's inventory lock — the same lock the drainer takes — so tickets coming back
are promoted to the waitlist before the drainer can give them to a newer request. The drainer
also expires its event's overdue holds before each batch (`expire_overdue`), so expiry does not
depend on beat alone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from core import lifecycle
from core.db import Database, UnitOfWork
from core.inventory import Inventory, lock_inventory
from core.models import Booking, utcnow
from core.services import follow_ups
from core.services.waitlist import promote_waitlist
from core.statuses import BookingStatus

CHUNK = 5000


@dataclass
class ExpiryReport:
    expired_holds: int = 0
    expired_waitlist: int = 0
    promoted: int = 0


def expire_holds(db: Database, now: dt.datetime | None = None, chunk: int = CHUNK) -> ExpiryReport:
    """Expire every hold due by `now` in `db`: one transaction, committed here, per chunk of an
    event's holds, then one for the waitlists of events that have started."""
    now = now or utcnow()
    report = ExpiryReport()
    with db.unit_of_work() as uow:
        event_ids = uow.session.scalars(
            select(Booking.event_id)
            .where(Booking.status == BookingStatus.HELD, Booking.hold_expires_at <= now)
            .distinct()
        ).all()
    for event_id in event_ids:
        while _expire_chunk(db, event_id, now, chunk, report) == chunk:
            pass
    report.expired_waitlist = _expire_waitlists_of_started_events(db, now)
    return report


def _expire_chunk(
    db: Database, event_id: uuid.UUID, now: dt.datetime, chunk: int, report: ExpiryReport
) -> int:
    with db.unit_of_work() as uow:
        inventory = lock_inventory(uow, event_id)
        expired = expire_overdue(uow, inventory, now, chunk)
        if not expired:
            return 0
        promoted = promote_waitlist(uow, inventory, now)
        follow_ups.bookings_promoted(uow, promoted)
        uow.commit()
    report.expired_holds += len(expired)
    report.promoted += len(promoted)
    return len(expired)


def expire_overdue(
    uow: UnitOfWork, inventory: Inventory, now: dt.datetime, chunk: int = CHUNK
) -> list[uuid.UUID]:
    """End up to `chunk` of the event's holds due by `now`, under the caller's inventory lock;
    their mails and closed checkouts follow the commit. The caller promotes the waitlist."""
    expired = lifecycle.expire_due_holds(uow, inventory, now, chunk)
    follow_ups.holds_expired(uow, expired)
    return expired


def _expire_waitlists_of_started_events(db: Database, now: dt.datetime) -> int:
    """Nobody can be served once the event has started: its waitlist ends."""
    with db.unit_of_work() as uow:
        expired = lifecycle.expire_waitlists_of_started_events(uow, now)
        uow.commit()
        return expired
