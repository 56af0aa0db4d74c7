"""Complimentary tickets and sending tickets again: what organizers do for a guest or a customer.

A comp is a booking request marked `complimentary`, decided by the allocation engine itself
(`allocation.decide_requests`, inventory locked) inside the organizer's transaction: the quotas
and the event's capacity hold exactly as for a sale, and the rows it writes are those of any
confirmed booking, so the tickets are issued and mailed by the usual jobs.

A comp is the organizer's guest, never an account's booking: each comp gets a guest row of its
own (`Role.GUEST`) with the name and address the organizer gave, which nobody signs in as and
no lookup by address finds. So comping an address that has an account tells the organizer
nothing about it (the answer echoes what was given), and the booking does not appear among that
person's own bookings; the tickets, and the booking's signed link, go to the address given.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from core import runtime
from core.booking_requests import BookingRequest
from core.db import UnitOfWork
from core.email_addresses import check_no_lookalike, normalize_email
from core.errors import Conflict, DomainError, Invalid, NotFound
from core.inventory import Line
from core.jobs import Job
from core.models import Booking, User, new_id, utcnow
from core.services import audit, back_office
from core.services.allocation import decide_requests
from core.services.audit import AuditAction
from core.services.bookings import can_see_booking, get_booking
from core.statuses import BookingStatus, RejectionReason, Role

RESENDS_PER_HOUR = 3


class TooManyResends(DomainError):
    status_code = 429
    name = "too_many_resends"


@dataclass(frozen=True)
class CompAsk:
    name: str
    email: str
    items: tuple[Line, ...]
    note: str = ""


# Not a password hash: no password verifies against it (and a guest is never looked up to try).
NO_PASSWORD = "!guest"


def _guest(uow: UnitOfWork, name: str, email: str) -> User:
    """A new guest row for one comp: whoever has (or will have) an account at the address is
    neither found nor touched."""
    check_no_lookalike(email)
    guest = User(email=normalize_email(email), name=name.strip(), role=Role.GUEST, password_hash=NO_PASSWORD)
    uow.session.add(guest)
    uow.session.flush()
    return guest


def issue_comp(uow: UnitOfWork, actor: User, event_id: uuid.UUID, ask: CompAsk) -> Booking:
    """A confirmed booking at price 0 for a guest; 409 `sold_out` if the quotas do not allow it."""
    event = back_office.organizers_event(uow, actor, event_id)
    ticket_type_ids = [line.ticket_type_id for line in ask.items]
    if len(set(ticket_type_ids)) != len(ticket_type_ids):
        raise Invalid("List each ticket type once.", name="duplicate_ticket_type")
    guest = _guest(uow, ask.name, ask.email)
    request = BookingRequest(
        booking_id=new_id(), user_id=guest.id, event_id=event.id, seq=0, lines=ask.items,
        join_waitlist=False, requested_at=utcnow(), complimentary=True,
    )  # fmt: skip
    (decided,) = decide_requests(uow, event.id, [request])
    if decided["status"] != BookingStatus.CONFIRMED:
        messages = {RejectionReason.SOLD_OUT: "Not enough tickets left for these comps.",
                    RejectionReason.EVENT_CANCELLED: "This event was cancelled.",
                    RejectionReason.INVALID_REQUEST: "These ticket types are not sold for this event."}  # fmt: skip
        error = Invalid if decided["reason"] == RejectionReason.INVALID_REQUEST else Conflict
        raise error(messages[decided["reason"]], name=decided["reason"])
    items = {str(line.ticket_type_id): line.quantity for line in ask.items}
    audit.record(uow, actor, AuditAction.BOOKING_COMP, "booking", request.booking_id, event.organization_id,
                 {"guest_email": guest.email, "guest_name": ask.name, "items": items, "note": ask.note})  # fmt: skip
    uow.commit()
    return get_booking(uow, request.booking_id)


def resend_tickets(uow: UnitOfWork, actor: User, booking_id: uuid.UUID) -> Booking:
    """Mail the booking's tickets again, as a new message (a few times an hour at most)."""
    booking = get_booking(uow, booking_id)
    if not can_see_booking(uow, actor, booking.user_id, booking.event_id):
        raise NotFound("No such booking.")
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict("Only a confirmed booking has tickets to send.", name="not_confirmed")
    redis = runtime.redis_client()
    key = f"resend:{booking.id}"
    count = redis.incr(key)
    if count == 1:
        redis.expire(key, 3600)
    if count > RESENDS_PER_HOUR:
        wait = max(redis.ttl(key), 1)
        raise TooManyResends(
            f"The tickets were sent {RESENDS_PER_HOUR} times this hour; try again in {wait} s.",
            details={"retry_after": wait},
        )
    if actor.id != booking.user_id:
        event = booking.event
        audit.record(uow, actor, AuditAction.BOOKING_RESEND, "booking", booking.id, event.organization_id,
                     {"to": booking.user.email})  # fmt: skip
    occasion = f"resend-{count}-{secrets.token_hex(4)}"
    uow.after_commit(lambda: runtime.dispatch(Job.SEND_BOOKING_EMAILS, kind="tickets_issued",
                                              booking_ids=[str(booking.id)], occasion=occasion))  # fmt: skip
    uow.commit()
    return booking
