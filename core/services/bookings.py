"""Bookings as customers see them: ask for tickets, follow a request, let go of a booking.

Asking touches only Redis (the event snapshot and the allocation queue); the drainer decides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from core import links, request_ids, runtime
from core.booking_queue import Accepted, AlreadyInRoom, Entered, SessionRevoked, queue_for
from core.booking_rules import BookingRequest, line_refusal, sales_closed
from core.db import UnitOfWork
from core.errors import Conflict, Invalid, NotFound, Unauthorized
from core.event_snapshots import EventSnapshot, load_event_snapshot
from core.inventory import Line, lock_inventory
from core.jobs import Job
from core.lifecycle import cancel, cancel_part, shown_status
from core.models import Booking, Event, User, new_id, utcnow
from core.services import attendees, audit, checkouts, follow_ups, refunds, tickets, vouchers, waiting_room
from core.services.audit import AuditAction
from core.services.permissions import may_read_booking
from core.services.waitlist import promote_waitlist, waitlist_position
from core.statuses import (
    FINAL_BOOKING_STATUSES,
    OPEN_BOOKING_STATUSES,
    BookingStatus,
    EventStatus,
    RejectionReason,
)


@dataclass(frozen=True)
class BookingAsk:
    event_id: uuid.UUID
    items: tuple[Line, ...]
    join_waitlist: bool = False
    voucher_code: str | None = None
    # The attendees named for each line, by ticket type: `[{name, email, answers}]`.
    attendees: dict[uuid.UUID, list[dict]] = field(default_factory=dict)


def request_booking(
    user_id: uuid.UUID, ask: BookingAsk, idempotency_key: str | None = None, *, session_id: str
) -> dict:
    """Check the request against the cached event and queue it; returns its first status.

    `session_id` is the customer's signed-in session: a revoked one is refused here, in the
    same Redis step that queues (the API does not check it separately on this path).
    """
    snapshot = load_event_snapshot(ask.event_id)
    now = utcnow()
    _check_against_snapshot(snapshot, ask, now)
    # In a waiting room, the request is checked as of the opening (`waiting_room.checked_at`).
    at = waiting_room.checked_at(snapshot, now)
    voucher = None
    if ask.voucher_code is not None:
        voucher = vouchers.check_voucher_code(ask.event_id, ask.voucher_code, _ticket_type_ids(ask), at)
    _check_lines(snapshot, ask, voucher, at)
    named = _checked_attendees(snapshot, ask)
    request = BookingRequest(
        booking_id=new_id(), user_id=user_id, event_id=ask.event_id, seq=0, lines=ask.items,
        join_waitlist=ask.join_waitlist, requested_at=now, idempotency_key=idempotency_key,
        request_id=request_ids.current(),
        voucher_id=voucher.id if voucher else None, attendees=named or None,
        opening_at=at if at != now else None,
    )  # fmt: skip
    queue = queue_for(runtime.redis_client())
    room, room_ttl = waiting_room.room_step(snapshot, now)
    outcome = queue.accept(request, _fingerprint(ask, named), session_id, room, room_ttl)
    if isinstance(outcome, SessionRevoked):
        raise Unauthorized("This session was signed out.", name="token_revoked")
    if isinstance(outcome, AlreadyInRoom):
        raise Conflict("You are already in this event's waiting room.", name=RejectionReason.HOLD_EXISTS)
    if isinstance(outcome, Entered):
        return {"id": outcome.booking_id, "status": BookingStatus.QUEUED, "queue_position": None,
                "waiting_room": True, "sales_start": snapshot.sales_start}  # fmt: skip
    if not isinstance(outcome, Accepted):
        if not outcome.same_request:
            raise Invalid(
                "This Idempotency-Key was already used for a different request.",
                name="idempotency_key_reused",
            )
        return {"id": outcome.booking_id, "duplicate": True}
    if outcome.must_schedule_drain:
        runtime.dispatch(Job.DRAIN_EVENT, event_id=str(ask.event_id))
    return {
        "id": outcome.booking_id,
        "status": BookingStatus.QUEUED,
        "queue_position": outcome.queue_position,
    }


def _check_against_snapshot(snapshot: EventSnapshot | None, ask: BookingAsk, now: dt.datetime) -> None:
    if snapshot is None or snapshot.status == EventStatus.DRAFT:
        raise NotFound("No such event.")
    closed = sales_closed(snapshot, waiting_room.checked_at(snapshot, now))
    if closed == RejectionReason.EVENT_CANCELLED:
        raise Conflict("This event was cancelled.", name="event_cancelled")
    if closed:
        raise Conflict("Tickets for this event are not on sale now.", name="sales_closed")
    ticket_type_ids = _ticket_type_ids(ask)
    if len(set(ticket_type_ids)) != len(ticket_type_ids):
        raise Invalid("List each ticket type once.", name="duplicate_ticket_type")
    unknown = [str(tt) for tt in ticket_type_ids if tt not in snapshot.ticket_types]
    if unknown:
        raise Invalid(
            "These ticket types are not sold for this event.", name="unknown_ticket_type",
            details={"ticket_type_ids": unknown},
        )  # fmt: skip
    quantity = sum(line.quantity for line in ask.items)
    if quantity > snapshot.max_per_booking:
        raise Invalid(
            f"At most {snapshot.max_per_booking} tickets per booking for this event.",
            name="limit_exceeded",
        )


def _check_lines(snapshot: EventSnapshot, ask: BookingAsk, voucher, now: dt.datetime) -> None:
    """Each line by its type's own rules; a hidden type without its code is as unknown as one
    that does not exist."""
    for line in ask.items:
        refused = line_refusal(snapshot.ticket_types[line.ticket_type_id], line.quantity, voucher, now)
        if refused == RejectionReason.INVALID_REQUEST:
            raise Invalid("These ticket types are not sold for this event.", name="unknown_ticket_type",
                          details={"ticket_type_ids": [str(line.ticket_type_id)]})  # fmt: skip
        if refused == RejectionReason.SALES_CLOSED:
            raise Conflict("This ticket type is not on sale now.", name="sales_closed",
                           details={"ticket_type_id": str(line.ticket_type_id)})  # fmt: skip
        if refused == RejectionReason.LIMIT_EXCEEDED:
            minimum = snapshot.ticket_types[line.ticket_type_id].min_per_booking
            raise Invalid(f"This ticket type is sold {minimum} or more at a time.", name="below_min_per_booking",
                          details={"ticket_type_id": str(line.ticket_type_id)})  # fmt: skip


def _checked_attendees(snapshot: EventSnapshot, ask: BookingAsk) -> dict[str, list[dict]]:
    """Each line's attendees checked against the event's questions, as they are queued."""
    named = {}
    for line in ask.items:
        checked = attendees.checked_attendees(
            snapshot.questions, line.ticket_type_id, line.quantity, ask.attendees.get(line.ticket_type_id)
        )
        if checked:
            named[str(line.ticket_type_id)] = checked
    return named


def _ticket_type_ids(ask: BookingAsk) -> list[uuid.UUID]:
    return [line.ticket_type_id for line in ask.items]


def _fingerprint(ask: BookingAsk, named: dict[str, list[dict]]) -> str:
    canonical = json.dumps(
        [
            str(ask.event_id),
            sorted((str(line.ticket_type_id), line.quantity) for line in ask.items),
            ask.join_waitlist,
            vouchers.normalize_code(ask.voucher_code) if ask.voucher_code else None,
            # Only when there are some, so a request without them keeps its fingerprint.
            *([named] if named else []),
        ],
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


# --- following a booking ----------------------------------------------------------------------


def queued_booking_view(booking_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, dict] | None:
    """(customer id, event id, view) of a request still in the queue, from Redis alone."""
    queued = queue_for(runtime.redis_client()).queued_status(booking_id)
    if queued is None:
        return None
    request: BookingRequest = queued["request"]
    room = {}
    if queued["waiting_room"]:
        snapshot = load_event_snapshot(request.event_id)
        waiting_room.wake_after_opening(snapshot, utcnow())
        room = {"waiting_room": True, "sales_start": snapshot.sales_start if snapshot else None}
    view = {
        "id": booking_id,
        "event_id": request.event_id,
        "status": BookingStatus.QUEUED,
        "items": [
            {"ticket_type_id": line.ticket_type_id, "quantity": line.quantity} for line in request.lines
        ],
        "queue_position": queued["queue_position"],
        # The request's queue number: not shown, but the live status wakes a waiter by it.
        "queue_seq": request.seq if queued["queue_position"] is not None else None,
        "estimated_wait_seconds": queued["estimated_wait"],
        "join_waitlist": request.join_waitlist,
        "requested_at": request.requested_at,
        "payment": None,
        # Only in the room: a queued request's answer stays as it was (tests/api/test_booking_answer.py).
        **room,
    }
    return request.user_id, request.event_id, view


def get_booking(uow: UnitOfWork, booking_id: uuid.UUID) -> Booking:
    booking = uow.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No such booking.")
    return booking


def can_see_booking(uow: UnitOfWork, actor: User, customer_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    if actor.id == customer_id:  # the common case needs no event
        return True
    return may_read_booking(actor, customer_id, uow.session.get(Event, event_id))


def readable_booking(uow: UnitOfWork, actor: User, booking_id: uuid.UUID) -> Booking:
    """The booking, if `actor` may read it; to anyone else it does not exist."""
    booking = get_booking(uow, booking_id)
    if not can_see_booking(uow, actor, booking.user_id, booking.event_id):
        raise NotFound("No such booking.")
    return booking


def read_booking(actor_id: uuid.UUID, booking_id: uuid.UUID) -> dict:
    """The booking as `actor_id` may see it: from Redis while queued, else from PostgreSQL.

    A queued request polled by its own customer is answered from Redis alone: that is the
    polling hot path of a rush, and it never waits for PostgreSQL.
    """
    queued = queued_booking_view(booking_id)
    if queued is not None and queued[0] == actor_id:
        return queued[2]
    with runtime.database().unit_of_work() as uow:
        if queued is not None:
            customer_id, event_id, view = queued
            if not can_see_booking(uow, _reader(uow, actor_id), customer_id, event_id):
                raise NotFound("No such booking.")
            return view
        booking = get_booking(uow, booking_id)
        if booking.user_id != actor_id and not can_see_booking(
            uow, _reader(uow, actor_id), booking.user_id, booking.event_id
        ):
            raise NotFound("No such booking.")
        return booking_view(uow, booking)


def _reader(uow: UnitOfWork, actor_id: uuid.UUID) -> User:
    actor = uow.session.get(User, actor_id)
    if actor is None:
        raise Unauthorized("Your account no longer exists; sign in again.", name="unknown_user")
    return actor


def booking_view(uow: UnitOfWork, booking: Booking) -> dict:
    tickets_path = links.BOOKING_TICKETS.path(booking_id=booking.id)
    status = shown_status(booking, utcnow())
    return {
        "id": booking.id,
        "event_id": booking.event_id,
        "status": status,
        "items": [
            {"ticket_type_id": line.ticket_type_id, "quantity": line.quantity, "unit_price": line.unit_price}
            for line in booking.lines
        ],
        "total": booking.total,
        "currency": booking.currency,
        "queue_position": None,
        "waitlist_position": waitlist_position(uow, booking)
        if booking.status == BookingStatus.WAITLISTED
        else None,
        "hold_expires_at": booking.hold_expires_at if status == BookingStatus.HELD else None,
        "reason": booking.reason,
        "join_waitlist": booking.join_waitlist,
        "requested_at": booking.requested_at,
        "decided_at": booking.decided_at,
        "is_final": status in FINAL_BOOKING_STATUSES,
        "payment": checkouts.payment_view(uow, booking),
        "tickets_url": tickets_path if booking.status == BookingStatus.CONFIRMED else None,
    }


def my_bookings_query(user_id: uuid.UUID, status: str | None):
    query = (
        select(Booking).where(Booking.user_id == user_id).order_by(Booking.requested_at.desc(), Booking.id)
    )
    return query.where(Booking.status == status) if status else query


# --- letting go -------------------------------------------------------------------------------


def _tickets_to_give_back(uow: UnitOfWork, booking: Booking, ticket_ids: list[uuid.UUID]) -> list:
    """The booking's valid tickets among `ticket_ids`, none used at the door, or a refusal."""
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(
            "Only a confirmed booking's tickets can be given back one by one.", name="not_cancellable"
        )
    found = tickets.tickets_of_booking(uow, booking.id, ticket_ids)
    missing = sorted({str(t) for t in ticket_ids} - {str(t.id) for t in found})
    if missing:
        raise Invalid("These tickets are not valid tickets of this booking.", name="not_in_booking",
                      details={"ticket_ids": missing})  # fmt: skip
    used = [str(t.id) for t in found if t.checked_in_at is not None]
    if used:
        raise Conflict("A ticket already used at the door cannot be given back.", name="already_checked_in",
                       details={"ticket_ids": used})  # fmt: skip
    return found


def _cancel_part(uow, actor, booking, inventory, part, reason, now) -> Booking:
    released = Counter(ticket.ticket_type_id for ticket in part)
    amount = cancel_part(booking, inventory, [Line(tt, n) for tt, n in released.items()], now)
    tickets.void_tickets(uow, [ticket.id for ticket in part])
    refunds.queue_partial_refund(uow, booking, amount, reason, "+".join(sorted(str(t.id) for t in part)))
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, now))
    if actor.id != booking.user_id:
        audit.record(uow, actor, AuditAction.BOOKING_CANCEL, "booking", booking.id, inventory.event.organization_id,
                     {"ticket_ids": [str(t.id) for t in part], "refund": amount})  # fmt: skip
    uow.commit()
    return booking


def cancel_booking(
    uow: UnitOfWork, actor: User, booking_id: uuid.UUID, ticket_ids: list[uuid.UUID] | None = None
) -> Booking:
    """Let go of a hold or a waitlist place, or cancel a confirmed booking and refund it; with
    `ticket_ids`, only those tickets of a confirmed booking (and only their price is refunded).

    Tickets that come back go to the waitlist first. A confirmed booking is cancelled by its
    customer within the event's refund period, or by the event's organizers at any time.
    """
    booking = uow.session.get(Booking, booking_id)
    if booking is None:
        queued = queued_booking_view(booking_id)
        if queued and can_see_booking(uow, actor, queued[0], queued[1]):
            raise Conflict(
                "The request is still in the queue; cancel it once it is decided.", name="not_decided_yet"
            )
        raise NotFound("No such booking.")
    if not can_see_booking(uow, actor, booking.user_id, booking.event_id):
        raise NotFound("No such booking.")
    inventory = lock_inventory(uow, booking.event_id)
    uow.session.refresh(booking, with_for_update=True)
    now = utcnow()
    was = booking.status
    if was not in OPEN_BOOKING_STATUSES:
        raise Conflict(f"A {was} booking cannot be cancelled.", name="not_cancellable")
    reason = None
    if was == BookingStatus.CONFIRMED:
        reason = refunds.reason_for_cancellation(actor, booking, inventory.event, now)
    if ticket_ids is not None:
        part = _tickets_to_give_back(uow, booking, ticket_ids)
        if len(part) < tickets.valid_ticket_count(uow, booking.id):
            return _cancel_part(uow, actor, booking, inventory, part, reason, now)
    cancel(booking, inventory, now, reason)
    if was == BookingStatus.HELD:
        follow_ups.holds_released(uow, [booking])
    elif was == BookingStatus.CONFIRMED:
        tickets.cancel_tickets(uow, [booking.id])
        refunds.queue_booking_refunds(uow, [booking], reason)
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, now))
    if actor.id != booking.user_id:  # the organizers' cancellations (and refunds) are audited
        audit.record(uow, actor, AuditAction.BOOKING_CANCEL, "booking", booking.id,
                     inventory.event.organization_id, {"status": [was, booking.status], "reason": booking.reason})  # fmt: skip
    uow.commit()
    return booking
