"""Bookings as customers see them: ask for tickets, follow a request, let go of a booking.

Asking touches only Redis (the event snapshot and the allocation queue); the drainer decides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import NoReturn

from sqlalchemy import select

from core import booking_links, drain_trace, links, request_ids, runtime
from core.booking_queue import Accepted, AlreadyInRoom, Entered, SessionRevoked, booking_queue
from core.booking_requests import BookingRequest
from core.booking_rules import line_refusal, sales_closed
from core.db import Database, UnitOfWork
from core.errors import Conflict, DomainError, Invalid, NotFound, Unauthorized
from core.event_snapshots import EventSnapshot, load_event_snapshot
from core.inventory import Line, lock_inventory
from core.jobs import Job
from core.lifecycle import shown_hold
from core.models import Booking, Event, User, new_id, utcnow
from core.seating.assigned import bookings_seats
from core.seating.reading import seat_types
from core.services import attendees, audit, cancellations, checkouts, refunds, tickets, vouchers, waiting_room
from core.services.audit import AuditAction
from core.services.permissions import is_organizer_of, may_read_booking
from core.services.waitlist import waitlist_positions
from core.statuses import (
    FINAL_BOOKING_STATUSES,
    OPEN_BOOKING_STATUSES,
    BookingStatus,
    EventStatus,
    RefundReason,
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
    # Seats for someone who needs an accessible seat (`core.seating`).
    accessible: bool = False


def request_booking(
    db: Database, user_id: uuid.UUID, ask: BookingAsk, idempotency_key: str | None = None, *, session_id: str
) -> dict:
    """Check the request against the cached event and queue it; returns its first status.

    `session_id` is the customer's signed-in session: a revoked one is refused here, in the
    same Redis step that queues (the API does not check it separately on this path). `db` is
    read only when a cache misses (no unit of work on the hot path).
    """
    now = utcnow()
    snapshot = load_event_snapshot(db, ask.event_id)
    try:
        voucher, named = _checked_ask(db, snapshot, user_id, ask, now)
    except DomainError:
        if snapshot is None or snapshot.status != EventStatus.PUBLISHED:
            raise  # read from Redis just now: processes keep their own copy of events on sale only
        # Refused on what may be this process's copy: ask the shared one, in case it just changed.
        snapshot = load_event_snapshot(db, ask.event_id, fresh=True)
        voucher, named = _checked_ask(db, snapshot, user_id, ask, now)
    # In a waiting room, the request is checked as of the opening (`waiting_room.checked_at`).
    at = waiting_room.checked_at(snapshot, now)
    request = BookingRequest(
        booking_id=new_id(), user_id=user_id, event_id=ask.event_id, seq=0, lines=ask.items,
        join_waitlist=ask.join_waitlist, requested_at=now, idempotency_key=idempotency_key,
        request_id=request_ids.current(),
        voucher_id=voucher.id if voucher else None, attendees=named or None, accessible=ask.accessible,
        opening_at=at if at != now else None,
    )  # fmt: skip
    queue = booking_queue()
    room, room_ttl = waiting_room.room_step(snapshot, now)
    outcome = queue.accept(request, _fingerprint(ask, named), session_id, room, room_ttl)
    if isinstance(outcome, SessionRevoked):
        raise signed_out()
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
    drain_trace.accepted(ask.event_id, outcome.booking_id)
    return {
        "id": outcome.booking_id,
        "status": BookingStatus.QUEUED,
        "queue_position": outcome.queue_position,
    }


def _checked_ask(
    db: Database, snapshot: EventSnapshot | None, user_id: uuid.UUID, ask: BookingAsk, now: dt.datetime
) -> tuple:
    """The request checked against the event's snapshot: its voucher (if any) and its attendees."""
    _check_against_snapshot(db, snapshot, user_id, ask, now)
    at = waiting_room.checked_at(snapshot, now)  # in a waiting room: as of the opening
    voucher = None
    if ask.voucher_code is not None:
        voucher = vouchers.check_voucher_code(db, ask.event_id, ask.voucher_code, _ticket_type_ids(ask), at)
    _check_lines(snapshot, ask, voucher, at)
    _check_chosen_seats(db, ask)
    return voucher, _checked_attendees(snapshot, ask)


def _check_against_snapshot(
    db: Database, snapshot: EventSnapshot | None, user_id: uuid.UUID, ask: BookingAsk, now: dt.datetime
) -> None:
    if snapshot is None:
        raise NotFound("No such event.")
    if snapshot.status == EventStatus.DRAFT:
        _refuse_draft(db, snapshot, user_id)
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


def _refuse_draft(db: Database, snapshot: EventSnapshot, user_id: uuid.UUID) -> NoReturn:
    """A draft does not exist for the public; its own organizers are told it is a draft."""
    with db.unit_of_work() as uow:
        organizer = is_organizer_of(uow.session.get(User, user_id), snapshot)
    if organizer:
        raise Conflict(
            "This event is a draft: publish it before it can be booked.", name="event_not_published"
        )
    raise NotFound("No such event.")


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


def _check_chosen_seats(db: Database, ask: BookingAsk) -> None:
    """Chosen seats must be seats of the event's plan of the line's ticket type (checked against
    the seat map's cache in Redis, not PostgreSQL); whether they are free is the drainer's call,
    in queue order. A request for chosen seats does not wait on the waitlist for them."""
    chosen = {seat_id: line.ticket_type_id for line in ask.items for seat_id in line.seat_ids}
    if not chosen:
        return
    types = seat_types(db, ask.event_id, list(chosen))
    wrong = [
        str(seat_id) for seat_id, ticket_type_id in chosen.items() if types[seat_id] != str(ticket_type_id)
    ]
    if wrong:
        raise Invalid("These seats are not seats of the event's plan of that ticket type.", name="unknown_seat",
                      details={"seat_ids": wrong})  # fmt: skip
    if ask.join_waitlist:
        raise Invalid("Chosen seats cannot wait on the waitlist: ask for best available seats (a quantity).",
                      name="waitlist_needs_best_available")  # fmt: skip


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
            sorted(
                (str(line.ticket_type_id), line.quantity, *sorted(map(str, line.seat_ids)))
                for line in ask.items
            ),
            ask.join_waitlist,
            vouchers.normalize_code(ask.voucher_code) if ask.voucher_code else None,
            # Only when there are some, so a request without them keeps its fingerprint.
            *([named] if named else []),
            *(["accessible"] if ask.accessible else []),
        ],
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


# --- following a booking ----------------------------------------------------------------------


def signed_out() -> Unauthorized:
    """The refusal of a request whose session was signed out, as `jwt_required` words it."""
    return Unauthorized("This session was signed out.", name="token_revoked")


def queued_booking_view(
    booking_id: uuid.UUID, session_id: str | None = None
) -> tuple[uuid.UUID, uuid.UUID, dict] | None:
    """(customer id, event id, view) of a request still in the queue, from Redis alone. Given
    the reader's `session_id`, a signed-out session is refused first (`signed_out`), checked in
    the same round trip (`BookingQueue.queued_status`)."""
    queued = booking_queue().queued_status(booking_id, session_id)
    if isinstance(queued, SessionRevoked):
        raise signed_out()
    if queued is None:
        return None
    request: BookingRequest = queued["request"]
    room = {}
    if queued["waiting_room"]:
        # An entrant's request carries the opening it waits for (`BookingRequest.opening_at`).
        waiting_room.wake_after_opening(request.event_id, request.opening_at, utcnow())
        room = {"waiting_room": True, "sales_start": request.opening_at}
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


def read_booking(
    db: Database, actor_id: uuid.UUID, booking_id: uuid.UUID, session_id: str | None = None
) -> dict:
    """The booking as `actor_id` may see it: from Redis while queued, else from PostgreSQL.

    A queued request polled by its own customer is answered from Redis alone: that is the
    polling hot path of a rush, and it never waits for PostgreSQL (so this takes the database
    and opens a read-only unit of work on it only when it needs one). Given the reader's
    `session_id`, a signed-out session is refused before anything is read
    (`queued_booking_view`).
    """
    queued = queued_booking_view(booking_id, session_id)
    if queued is not None and queued[0] == actor_id:
        return queued[2]
    with db.unit_of_work() as uow:
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
        view = booking_view(uow, booking)
        return _with_link(view, booking) if booking.user_id == actor_id else view


def _reader(uow: UnitOfWork, actor_id: uuid.UUID) -> User:
    actor = uow.session.get(User, actor_id)
    if actor is None:
        raise Unauthorized("Your account no longer exists; sign in again.", name="unknown_user")
    return actor


def booking_view(uow: UnitOfWork, booking: Booking) -> dict:
    return booking_views(uow, [booking])[booking.id]


def booking_views(uow: UnitOfWork, bookings: list[Booking]) -> dict[uuid.UUID, dict]:
    """Each booking as its readers see it, in the same few queries however many there are."""
    now = utcnow()
    seats = bookings_seats(uow, [booking.id for booking in bookings])
    places = waitlist_positions(uow, bookings)
    payments = checkouts.payment_views(uow, bookings)
    return {
        booking.id: _view(
            booking, now, seats.get(booking.id, {}), places.get(booking.id), payments[booking.id]
        )
        for booking in bookings
    }


def decided_views(db: Database, booking_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[uuid.UUID, dict]]:
    """(customer id, the view its customer sees) of bookings just decided, read at once: the
    live status reads a batch of decisions once for every client of a process that waits for
    one of them (`core.services.booking_updates`), not once for each."""
    with db.unit_of_work() as uow:
        found = list(uow.session.scalars(select(Booking).where(Booking.id.in_(booking_ids))))
        views = booking_views(uow, found)
        return {booking.id: (booking.user_id, _with_link(views[booking.id], booking)) for booking in found}


def _with_link(view: dict, booking: Booking) -> dict:
    """The view as the booking's own customer sees it: the link is their credential, theirs alone."""
    return {**view, "booking_page_url": booking_links.link_for(booking).url}


def _view(booking: Booking, now: dt.datetime, seats: dict, waitlist_position: int | None, payment) -> dict:
    tickets_path = links.BOOKING_TICKETS.path(booking_id=booking.id)
    status, hold_expires_at = shown_hold(booking.status, booking.hold_expires_at, now)
    return {
        "id": booking.id,
        "event_id": booking.event_id,
        "status": status,
        "items": [
            {
                "ticket_type_id": line.ticket_type_id,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "seats": seats.get(line.ticket_type_id, []),
            }  # fmt: skip
            for line in booking.lines
        ],
        "total": booking.total,
        "currency": booking.currency,
        "queue_position": None,
        "waitlist_position": waitlist_position,
        "hold_expires_at": hold_expires_at,
        "reason": booking.reason,
        "join_waitlist": booking.join_waitlist,
        "requested_at": booking.requested_at,
        "decided_at": booking.decided_at,
        "is_final": status in FINAL_BOOKING_STATUSES,
        "payment": payment,
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


def cancel_booking(
    uow: UnitOfWork, actor: User, booking_id: uuid.UUID, ticket_ids: list[uuid.UUID] | None = None
) -> Booking:
    """Let go of a hold or a waitlist place, or cancel a confirmed booking and refund it; with
    `ticket_ids`, only those tickets of a confirmed booking (and only their price is refunded).

    Tickets that come back go to the waitlist first (`core.services.cancellations`). A confirmed
    booking is cancelled by its customer within the event's refund period, or by the event's
    organizers at any time. In the caller's transaction: the caller commits.
    """
    booking = _booking_to_cancel(uow, actor, booking_id)
    inventory = lock_inventory(uow, booking.event_id)
    uow.session.refresh(booking, with_for_update=True)
    now = utcnow()
    was = booking.status
    reason = _refund_reason(actor, booking, inventory.event, now)
    if ticket_ids is not None:
        part = _tickets_to_give_back(uow, booking, ticket_ids)
        if len(part) < tickets.valid_ticket_count(uow, booking.id):
            amount = cancellations.give_back_tickets(uow, inventory, booking, part, reason, now)
            _audit_cancellation(uow, actor, booking, inventory.event,
                                {"ticket_ids": [str(t.id) for t in part], "refund": amount})  # fmt: skip
            return booking
    cancellations.cancel_bookings(uow, inventory, [booking], now, reason)
    _audit_cancellation(uow, actor, booking, inventory.event,
                        {"status": [was, booking.status], "reason": booking.reason})  # fmt: skip
    return booking


def _booking_to_cancel(uow: UnitOfWork, actor: User, booking_id: uuid.UUID) -> Booking:
    """The booking, if `actor` may see it; a request still queued cannot be cancelled yet."""
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
    return booking


def _refund_reason(actor: User, booking: Booking, event: Event, now: dt.datetime) -> RefundReason | None:
    """Why the money goes back, if `actor` may cancel the booking now (none for a hold or a
    waitlist place: nothing was paid)."""
    if booking.status not in OPEN_BOOKING_STATUSES:
        raise Conflict(f"A {booking.status} booking cannot be cancelled.", name="not_cancellable")
    if booking.status == BookingStatus.CONFIRMED:
        return refunds.reason_for_cancellation(actor, booking, event, now)
    return None


def _audit_cancellation(uow: UnitOfWork, actor: User, booking: Booking, event: Event, details: dict) -> None:
    """The organizers' cancellations (and refunds) are audited; a customer's own are not."""
    if actor.id != booking.user_id:
        audit.record(
            uow, actor, AuditAction.BOOKING_CANCEL, "booking", booking.id, event.organization_id, details
        )
