"""The waitlist: first come, first served, by the order the API accepted the requests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from core.booking_rules import sales_closed
from core.db import UnitOfWork
from core.inventory import Inventory
from core.lifecycle import fits, promote
from core.models import Booking, Voucher
from core.statuses import BookingStatus

SCAN_CHUNK = 500


def promote_waitlist(uow: UnitOfWork, inventory: Inventory, now: dt.datetime) -> list[Booking]:
    """Give free tickets to the earliest waitlisted bookings that fit, each with a fresh hold.

    Must run inside the transaction that locked `inventory`. An entry that does not fit (it
    wants more than is free) keeps its place and the next one is tried.
    """
    promoted: list[Booking] = []
    if inventory.free() == 0 or sales_closed(inventory.event, now):
        return promoted
    # Waiting for a code that has run out is not worth a look (the autoflush has written the
    # counters this transaction moved): such entries are passed over in the index, never loaded.
    # The event's run-out codes (a booking carries only its own event's) are read once per
    # query, a hashed set, not looked up entry by entry: a voucher sale's drainer asks this
    # before every batch while its waitlist of such entries grows, and those lookups cost four
    # times the walk itself.
    exhausted = select(Voucher.id).where(
        Voucher.event_id == inventory.event.id,
        Voucher.max_redemptions.is_not(None),
        Voucher.redeemed >= Voucher.max_redemptions,
    )
    after_seq = -1
    while inventory.free() > 0:
        chunk = uow.session.scalars(
            select(Booking)
            .where(
                Booking.event_id == inventory.event.id,
                Booking.status == BookingStatus.WAITLISTED,
                Booking.queue_seq > after_seq,
                or_(Booking.voucher_id.is_(None), Booking.voucher_id.not_in(exhausted)),
            )
            .order_by(Booking.queue_seq)
            .limit(SCAN_CHUNK)
        ).all()
        if not chunk:
            break
        for booking in chunk:
            if inventory.free() == 0:
                break
            if fits(inventory, booking):
                promote(booking, inventory, now)
                promoted.append(booking)
        after_seq = chunk[-1].queue_seq
    return promoted


def waitlist_positions(uow: UnitOfWork, bookings: list[Booking]) -> dict[uuid.UUID, int]:
    """Each waitlisted booking's place on its event's waitlist (1 is next), in one query for
    them all (a batch of decisions is read at once)."""
    waitlisted = [b.id for b in bookings if b.status == BookingStatus.WAITLISTED]
    if not waitlisted:
        return {}
    ahead = aliased(Booking)
    place = (
        select(func.count())
        .where(
            ahead.event_id == Booking.event_id,
            ahead.status == BookingStatus.WAITLISTED,
            ahead.queue_seq <= Booking.queue_seq,
        )
        .correlate(Booking)
        .scalar_subquery()
    )
    return dict(uow.session.execute(select(Booking.id, place).where(Booking.id.in_(waitlisted))).all())


def waitlist_query(event_id: uuid.UUID):
    """The event's waitlist in the order it will be served."""
    return (
        select(Booking)
        .where(Booking.event_id == event_id, Booking.status == BookingStatus.WAITLISTED)
        .order_by(Booking.queue_seq)
    )


def waitlist_entries(bookings: Iterable[Booking], first_position: int) -> list[dict]:
    """Rows of the waitlist as its organizers see it, numbered from `first_position`."""
    return [
        {
            "position": position,
            "booking_id": booking.id,
            "user_id": booking.user_id,
            "customer_name": booking.user.name,
            "customer_email": booking.user.email,
            "quantity": sum(line.quantity for line in booking.lines),
            "requested_at": booking.requested_at,
        }
        for position, booking in enumerate(bookings, start=first_position)
    ]
